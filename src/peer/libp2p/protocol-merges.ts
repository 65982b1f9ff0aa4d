/**
 * Patch of libp2p's per-stream peer-store write. Measured on libp2p 3.3.11
 * with @libp2p/peer-store 12.0.28 (docs/performance.md, "Small requests").
 * Retire it when libp2p's Connection skips the merge for a protocol the peer
 * store already lists for that peer.
 */
import type { Libp2pEvents, Peer, PeerData, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'

/** How long a peer's stored protocols are trusted without a write, in ms. */
export const PROTOCOL_MERGE_TTL_MS = 60_000
/** Peers whose stored protocols are remembered at once; the oldest is dropped past it. */
export const PROTOCOL_MERGE_MAX_PEERS = 1024

export interface ProtocolMergesInit {
  /**
   * How long a merge that only adds protocols the peer already has is
   * answered from memory, in ms, after the last real write for that peer.
   * Past it the next such merge is written again (which also refreshes the
   * record's age, so a peer in use never expires from the store).
   * @default PROTOCOL_MERGE_TTL_MS (60 s)
   */
  ttlMs?: number
  /**
   * Peers remembered at once.
   * @default PROTOCOL_MERGE_MAX_PEERS (1024)
   */
  maxPeers?: number
}

export interface ProtocolMergesComponents {
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
}

interface Known { peer: Peer, at: number }

/**
 * libp2p merges the negotiated protocol into the peer store for every stream
 * it opens or accepts (`Connection.newStream` and `onIncomingStream`): a
 * write lock, a datastore read, a protobuf decode, a merge, an encode and a
 * datastore write, and a few microtask hops before the stream reaches its
 * handler, to record a fact that is already stored after the first stream of
 * that protocol. A new tunnel connection paid it on both sides.
 *
 * This service answers such a merge (its data is `protocols` alone, all of
 * them already in the peer's stored record) with the peer as the last write
 * for that peer returned it. Anything that may change the record makes the
 * next merge go through: a `peer:update` event for the peer, a `patch`,
 * `save` or `delete` through the store, or {@link ProtocolMergesInit.ttlMs}
 * since the last real write. Every other merge goes to the store unchanged.
 */
export function protocolMerges (init: ProtocolMergesInit = {}): (components: ProtocolMergesComponents) => ProtocolMerges {
  return (components) => new ProtocolMerges(components, init)
}

/** The service; `skipped` counts merges answered from memory. */
export class ProtocolMerges {
  readonly [Symbol.toStringTag] = 'beam:protocol-merges'
  /** Merges answered from memory since the node was built. */
  skipped = 0
  private readonly known = new Map<string, Known>()
  private readonly ttlMs: number
  private readonly maxPeers: number

  constructor (components: ProtocolMergesComponents, init: ProtocolMergesInit) {
    this.ttlMs = init.ttlMs ?? PROTOCOL_MERGE_TTL_MS
    this.maxPeers = init.maxPeers ?? PROTOCOL_MERGE_MAX_PEERS
    const store = components.peerStore
    const merge = store.merge.bind(store)
    const patch = store.patch.bind(store)
    const save = store.save.bind(store)
    const remove = store.delete.bind(store)
    store.merge = async (id, data, options) => {
      const key = id.toString()
      if (protocolsOnly(data)) {
        const known = this.known.get(key)
        if (known != null && Date.now() - known.at < this.ttlMs && (data.protocols ?? []).every(p => known.peer.protocols.includes(p))) {
          this.skipped++
          return known.peer
        }
        const peer = await merge(id, data, options)
        this.remember(key, peer)
        return peer
      }
      this.known.delete(key)
      return await merge(id, data, options)
    }
    store.patch = async (id, data, options) => { this.forget(id); return await patch(id, data, options) }
    store.save = async (id, data, options) => { this.forget(id); return await save(id, data, options) }
    store.delete = async (id, options) => { this.forget(id); await remove(id, options) }
    components.events.addEventListener('peer:update', (evt) => { this.forget(evt.detail.peer.id) })
  }

  private forget (id: PeerId): void {
    this.known.delete(id.toString())
  }

  private remember (key: string, peer: Peer): void {
    this.known.delete(key)
    if (this.known.size >= this.maxPeers) {
      const oldest = this.known.keys().next()
      if (oldest.done !== true) this.known.delete(oldest.value)
    }
    this.known.set(key, { peer, at: Date.now() })
  }
}

/** A merge that can only add protocols: what libp2p's Connection writes for each stream. */
function protocolsOnly (data: PeerData): boolean {
  for (const k of Object.keys(data)) {
    if (k !== 'protocols') return false
  }
  return Array.isArray(data.protocols) && data.protocols.length > 0
}
