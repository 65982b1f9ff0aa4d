/**
 * The relay side of a node's wiring, built once by BeamNode's constructor:
 * the RelayFinder that holds reservations (a node that wants relays) and the
 * RelayAdvertiser that announces this node's relay server in the DHT (a relay
 * that serves everyone). Either is absent when the node does not need it.
 */
import { RelayAdvertiser } from '../discovery/relay-advertiser.ts'
import { RelayFinder } from '../discovery/relay-finder.ts'
import { listenThroughRelay } from './reservations.ts'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'
import type { BeamInit, BeamNodeEvents } from './init.ts'

/** What {@link relayParts} needs from the node. */
export interface RelayPartsOptions {
  libp2p: Libp2p<BeamServices>
  init: BeamInit
  /** The node's logger (each part gets its own child). */
  log: Logger
  /** The node's relayed addresses now. */
  relayedAddrs: () => Multiaddr[]
  /** Resolves once the DHT has a peer; absent when the DHT is off. */
  waitForDhtPeer?: (signal: AbortSignal) => Promise<void>
  /** The finder searched: wake the reservation loop. */
  searched: () => void
  /** A held relay's connection is gone: reachability changed. */
  released: () => void
  /** Emits the node's `relay:advertised` event. */
  advertised: (e: BeamNodeEvents['relay:advertised'][0]) => void
}

/** The node's relay finder and relay advertiser, where its options ask for them. */
export function relayParts (options: RelayPartsOptions): { finder: RelayFinder | undefined, advertiser: RelayAdvertiser | undefined } {
  const { libp2p, init, log, waitForDhtPeer } = options
  const want = init.transports?.relay !== false ? init.reservations ?? 0 : 0
  const finder = want > 0
    ? new RelayFinder({
      libp2p,
      bootstrap: init.bootstrap ?? [],
      want,
      ...init.relayFinder,
      listenOn: async (relay, signal) => { await listenThroughRelay(libp2p, relay, signal) },
      relayedAddrs: options.relayedAddrs,
      ...(init.dht !== false && waitForDhtPeer != null ? { waitForDhtPeer } : {}),
      log: log.child({ component: 'relay-finder' }),
      events: { searched: options.searched, released: options.released }
    })
    : undefined
  // a relay restricted to an allow-list serves no one else: nothing to announce
  const advertise = init.relayServer != null && init.dht !== false && waitForDhtPeer != null && (init.relayAdvertise ?? (init.relayAllow ?? []).length === 0)
  const advertiser = advertise
    ? new RelayAdvertiser({ libp2p, waitForDhtPeer, log, events: { advertised: options.advertised } })
    : undefined
  return { finder, advertiser }
}
