import type { HandlerHost } from './wrap-handler.ts'
import { wrapHandler } from './wrap-handler.ts'
import { HOP_PROTOCOL } from './constants.ts'
import { refuseHop } from './hop-message.ts'

/**
 * A per-peer cap on a relay: one peer may hold at most `maxPerPeer` HOP
 * streams at once (relayed connections it opened, plus reservation requests in
 * flight). Over the cap the relay answers RESOURCE_LIMIT_EXCEEDED, as it does
 * for its global limits, and closes the stream; the client then tries another
 * relay or reports why. Counts by peer id: a peer cannot take every slot of a
 * relay that others need. (Peer ids are free: AddressCaps counts by address.)
 */
export class PeerCaps {
  readonly maxPerPeer: number
  private readonly active = new Map<string, number>()
  private readonly onRefuse: (() => void) | undefined
  /** Requests refused by this cap since start. */
  refused = 0

  constructor (maxPerPeer: number, onRefuse?: () => void) {
    this.maxPerPeer = maxPerPeer
    this.onRefuse = onRefuse
  }

  /** Streams a peer holds now. */
  countOf (peer: string): number { return this.active.get(peer) ?? 0 }

  async install (libp2p: HandlerHost): Promise<boolean> {
    return await wrapHandler(libp2p, HOP_PROTOCOL, async (stream, connection, handler) => {
      const peer = connection.remotePeer.toString()
      const n = this.countOf(peer)
      if (n >= this.maxPerPeer) {
        this.refused++
        this.onRefuse?.()
        await refuseHop(stream, 'per-peer relay cap')
        return
      }
      this.active.set(peer, n + 1)
      const release = (): void => {
        const left = this.countOf(peer) - 1
        if (left <= 0) this.active.delete(peer)
        else this.active.set(peer, left)
      }
      stream.addEventListener('close', release, { once: true })
      await handler(stream, connection)
    })
  }
}
