import { networkInterfaces } from 'node:os'
import type { Libp2p } from 'libp2p'
import type { Logger } from '../logger.ts'
import { pingConnection } from '../connect/path.ts'
import { recomputeOwnAddresses } from './addresses.ts'

/**
 * When this machine's IP addresses change (a laptop on another network, a
 * DHCP lease with a new address), every connection that used a vanished
 * address is dead, but TCP, QUIC and libp2p notice only after their own
 * timeouts (the connection monitor's ping: 10-30 s), during which the
 * node's relay reservation, DHT announcements and tunnels hang on them.
 * This watch looks at the interfaces every few seconds; when an address is
 * gone it pings every open connection and closes those that do not answer
 * at once, and it has libp2p recompute the node's own addresses (which
 * republishes them: `self:peer:update`).
 */

/** How often the interfaces are read, in ms. */
export const NETWORK_POLL_INTERVAL = 2000

/** How long a connection has to answer a ping after an address change, in ms. */
export const NETWORK_CHANGE_PING_TIMEOUT = 3000

/** Options and components of a {@link NetworkWatch}. */
export interface NetworkWatchInit {
  libp2p: Libp2p
  log: Logger
  /** How often to look, in ms. @default NETWORK_POLL_INTERVAL (2000) */
  interval?: number
  /** Ping deadline after a change, in ms. @default NETWORK_CHANGE_PING_TIMEOUT (3000) */
  pingTimeout?: number
  /** The machine's addresses now. @default the non-loopback addresses of os.networkInterfaces() */
  addresses?: () => Set<string>
}

/** The machine's non-loopback IP addresses. */
export function interfaceAddresses (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.add(a.address)
  }
  return out
}

/** Watches this machine's addresses; see the module comment. */
export class NetworkWatch {
  private readonly init: NetworkWatchInit
  private timer: ReturnType<typeof setInterval> | undefined
  private last: Set<string> = new Set()
  private checking = false
  private readonly stopped = new AbortController()

  constructor (init: NetworkWatchInit) {
    this.init = init
  }

  start (): void {
    if (this.timer != null) return
    const read = this.init.addresses ?? interfaceAddresses
    this.last = read()
    this.timer = setInterval(() => {
      const now = read()
      const gone = [...this.last].filter(a => !now.has(a))
      const added = [...now].filter(a => !this.last.has(a))
      this.last = now
      if (gone.length === 0 && added.length === 0) return
      this.init.log.info({ gone, added }, `this machine's addresses changed${gone.length > 0 ? ` (gone: ${gone.join(', ')})` : ''}${added.length > 0 ? ` (new: ${added.join(', ')})` : ''}`)
      recomputeOwnAddresses(this.init.libp2p)
      if (gone.length > 0) void this.dropDead()
    }, this.init.interval ?? NETWORK_POLL_INTERVAL)
    this.timer.unref()
  }

  stop (): void {
    this.stopped.abort()
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Ping every open connection; close those that do not answer in time. */
  private async dropDead (): Promise<void> {
    if (this.checking) return
    this.checking = true
    try {
      const conns = this.init.libp2p.getConnections().filter(c => c.status === 'open')
      const deadline = this.init.pingTimeout ?? NETWORK_CHANGE_PING_TIMEOUT
      await Promise.all(conns.map(async c => {
        try {
          await pingConnection(c, { signal: AbortSignal.any([this.stopped.signal, AbortSignal.timeout(deadline)]) })
        } catch (err) {
          if (this.stopped.signal.aborted) return
          this.init.log.info({ remote: c.remoteAddr.toString(), err: (err as Error).message }, 'connection does not answer after the address change; closing it')
          c.abort(new Error('no answer after a change of this machine\'s addresses'))
        }
      }))
    } finally {
      this.checking = false
    }
  }
}
