import { RelayLimitError } from './errors.ts'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayServerInit } from '@libp2p/circuit-relay-v2'
import {
  DEFAULT_MAX_RESERVATIONS, DEFAULT_MAX_RELAYED_CONNECTIONS, DEFAULT_MAX_CIRCUITS_PER_PEER, DEFAULT_RESERVATION_TTL, UNLIMITED_DURATION_MS, UNLIMITED_DATA_BYTES,
  DEFAULT_MAX_RESERVATIONS_PER_IP, DEFAULT_MAX_RESERVATIONS_PER_SUBNET, DEFAULT_MAX_CIRCUITS_PER_IP, DEFAULT_MAX_CIRCUITS_PER_SUBNET, DEFAULT_RESERVATION_GRACE
} from './constants.ts'

/** Limits of a beam relay. Defaults fit tunnels (long-lived, bulk), not the library's 2 min / 128 KiB. */
export interface RelayLimits {
  /** Peers that may hold a reservation at once. @default 1024 */
  maxReservations?: number
  /** Relayed connections at once (HOP streams in, STOP streams out). @default 1024 */
  maxRelayedConnections?: number
  /** Cut a relayed connection after this many ms; 0 = never. @default 0 */
  maxDurationMs?: number
  /** Cut a relayed connection after this many bytes (both ways together); 0 = never. @default 0 */
  maxBytes?: number
  /** How long a reservation lasts before the client must renew it, in ms. @default 3600000 */
  reservationTtlMs?: number
  /** Relayed connections one peer may open through the relay at once. @default 64 */
  maxCircuitsPerPeer?: number
  /** Reservations held through connections from one IP address; 0 = no cap. @default 8 */
  maxReservationsPerIp?: number
  /** Reservations held through connections from one IPv4 /24 or IPv6 /48; 0 = no cap. @default 32 */
  maxReservationsPerSubnet?: number
  /** Relayed connections opened from one IP address at once; 0 = no cap. @default 64 */
  maxCircuitsPerIp?: number
  /** Relayed connections opened from one IPv4 /24 or IPv6 /48 at once; 0 = no cap. @default 128 */
  maxCircuitsPerSubnet?: number
  /** How long a reservation outlives its holder's last connection to the relay, in ms (0 = drop it at once). @default 60000 */
  reservationGraceMs?: number
}

/** Resolved limits, every default applied. */
export type ResolvedRelayLimits = Required<RelayLimits>

/** Fill in the defaults of relay limits and check them. Throws RelayLimitError for a bad value. */
export function resolveRelayLimits (limits: RelayLimits = {}): ResolvedRelayLimits {
  const r: ResolvedRelayLimits = {
    maxReservations: limits.maxReservations ?? DEFAULT_MAX_RESERVATIONS,
    maxRelayedConnections: limits.maxRelayedConnections ?? DEFAULT_MAX_RELAYED_CONNECTIONS,
    maxDurationMs: limits.maxDurationMs ?? 0,
    maxBytes: limits.maxBytes ?? 0,
    reservationTtlMs: limits.reservationTtlMs ?? DEFAULT_RESERVATION_TTL,
    maxCircuitsPerPeer: limits.maxCircuitsPerPeer ?? DEFAULT_MAX_CIRCUITS_PER_PEER,
    maxReservationsPerIp: limits.maxReservationsPerIp ?? DEFAULT_MAX_RESERVATIONS_PER_IP,
    maxReservationsPerSubnet: limits.maxReservationsPerSubnet ?? DEFAULT_MAX_RESERVATIONS_PER_SUBNET,
    maxCircuitsPerIp: limits.maxCircuitsPerIp ?? DEFAULT_MAX_CIRCUITS_PER_IP,
    maxCircuitsPerSubnet: limits.maxCircuitsPerSubnet ?? DEFAULT_MAX_CIRCUITS_PER_SUBNET,
    reservationGraceMs: limits.reservationGraceMs ?? DEFAULT_RESERVATION_GRACE
  }
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isInteger(v) || v < 0) throw new RelayLimitError(`relay limit ${k} must be a whole number >= 0`)
  }
  if (r.maxReservations < 1 || r.maxRelayedConnections < 1 || r.maxCircuitsPerPeer < 1 || r.reservationTtlMs < 1000) {
    throw new RelayLimitError('relay limits: maxReservations, maxRelayedConnections and maxCircuitsPerPeer must be >= 1, reservationTtlMs >= 1000')
  }
  if (r.reservationGraceMs > 2_147_483_647) throw new RelayLimitError('relay limit reservationGraceMs must be at most 2147483647 (about 24.8 days)')
  return r
}

/**
 * circuit-relay-v2 server options for these limits. The library applies a
 * duration and a data limit together or neither, and reads 0 as "0 ms" rather
 * than "none": an unset one is therefore passed as a value nobody reaches.
 */
export function relayServerOptions (limits: ResolvedRelayLimits): CircuitRelayServerInit {
  const limited = limits.maxDurationMs > 0 || limits.maxBytes > 0
  return {
    hopTimeout: 30_000,
    maxInboundHopStreams: limits.maxRelayedConnections,
    maxOutboundHopStreams: limits.maxRelayedConnections,
    maxOutboundStopStreams: limits.maxRelayedConnections,
    reservations: {
      maxReservations: limits.maxReservations,
      reservationTtl: limits.reservationTtlMs,
      applyDefaultLimit: limited,
      ...(limited
        ? {
            defaultDurationLimit: limits.maxDurationMs > 0 ? limits.maxDurationMs : UNLIMITED_DURATION_MS,
            defaultDataLimit: BigInt(limits.maxBytes > 0 ? limits.maxBytes : UNLIMITED_DATA_BYTES)
          }
        : {})
    }
  }
}

/** The relay server service for a libp2p node. */
export function relayServer (limits: ResolvedRelayLimits): ReturnType<typeof circuitRelayServer> {
  return circuitRelayServer(relayServerOptions(limits))
}
