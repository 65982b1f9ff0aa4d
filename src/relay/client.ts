import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { DEFAULT_MAX_INBOUND_RELAYED, DEFAULT_MAX_OUTBOUND_RELAYED, DEFAULT_RESERVATION_TIMEOUT } from './constants.ts'

export interface RelayClientInit {
  /** @default 1024 */
  maxInboundRelayed?: number
  /** @default 1024 */
  maxOutboundRelayed?: number
  /** @default 10000 ms */
  reservationTimeout?: number
}

/**
 * The circuit-relay-v2 transport with beam's limits: a node can dial through
 * relays and, once it holds a reservation, be dialled through them. The
 * library defaults (300 streams) are raised for tunnels with many connections.
 */
export function relayTransport (init: RelayClientInit = {}): ReturnType<typeof circuitRelayTransport> {
  return circuitRelayTransport({
    maxInboundStopStreams: init.maxInboundRelayed ?? DEFAULT_MAX_INBOUND_RELAYED,
    maxOutboundStopStreams: init.maxOutboundRelayed ?? DEFAULT_MAX_OUTBOUND_RELAYED,
    reservationCompletionTimeout: init.reservationTimeout ?? DEFAULT_RESERVATION_TIMEOUT
  })
}
