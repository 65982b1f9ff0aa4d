/**
 * Patch of how libp2p loads transports. Measured on libp2p 3.3.11 with
 * @libp2p/webrtc 6.0.33 and @chainsafe/libp2p-quic 2.1.1
 * (docs/performance.md, "Start-up" and "The default path"). Retire it when
 * @libp2p/webrtc imports node-datachannel and its X.509 code on first use
 * and @chainsafe/libp2p-quic opens its native client on first dial (or
 * libp2p builds transports lazily itself).
 */
/**
 * A libp2p transport whose module is imported and built on its first dial.
 *
 * Why: a node selects transports it may never use. A `beam connect` keeps
 * WebRTC for a possible upgrade of a relayed tunnel, but most tunnels are
 * direct; importing @libp2p/webrtc (node-datachannel's native add-on and the
 * X.509 code, over a megabyte of bundled JS) was a tenth of its cold start.
 *
 * The stand-in answers `dialFilter`/`listenFilter` itself (a multiaddr
 * matcher, no import) and builds the real transport, with the same
 * components, when a dial needs it; the real one is then started (so it
 * registers its protocol handlers) and handles every later call. It cannot
 * listen before it is loaded (libp2p asks for listeners synchronously):
 * nodes that listen on the transport's addresses (a share with a relay
 * reservation listens on `/webrtc`) must build the real one at start.
 */
import { serviceCapabilities, transportSymbol } from '@libp2p/interface'
import type { Connection, CreateListenerOptions, DialTransportOptions, Listener, Startable, Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Options of {@link lazyTransport}. */
export interface LazyTransportInit<C> {
  /** Name in libp2p's logs and errors, e.g. '@libp2p/webrtc'. */
  name: string
  /** Which multiaddrs the real transport dials (its own `dialFilter`, without importing it). */
  matches: (ma: Multiaddr) => boolean
  /** Imports the transport's module and returns its factory. */
  load: () => Promise<(components: C) => Transport>
}

/** Thrown when something asks a not-yet-loaded lazy transport for a listener. */
export class LazyTransportListenError extends Error {
  constructor (name: string) {
    super(`${name} is loaded on first dial and cannot listen: build it eagerly on nodes that listen on its addresses`)
    this.name = 'LazyTransportListenError'
  }
}

/** Thrown when a dial reaches a lazy transport whose node is stopping. */
export class LazyTransportStoppedError extends Error {
  constructor (name: string) {
    super(`${name}: the node is stopping`)
    this.name = 'LazyTransportStoppedError'
  }
}

class LazyTransport<C> implements Transport, Startable {
  readonly [transportSymbol] = true as const
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']
  get [Symbol.toStringTag] (): string { return this.init.name }
  private readonly components: C
  private readonly init: LazyTransportInit<C>
  private loading: Promise<Transport> | undefined
  private built: Transport | undefined
  private stopped = false

  constructor (components: C, init: LazyTransportInit<C>) {
    this.components = components
    this.init = init
  }

  /** Whether the real transport has been built (for tests and diagnostics). */
  get loaded (): boolean { return this.loading != null }

  start (): void { this.stopped = false }

  async stop (): Promise<void> {
    this.stopped = true
    const real = await this.loading?.catch(() => undefined)
    if (real != null) await (real as Partial<Startable>).stop?.()
    this.loading = undefined
    this.built = undefined
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    const real = await this.real()
    options.signal.throwIfAborted()
    return await real.dial(ma, options)
  }

  createListener (_options: CreateListenerOptions): Listener {
    throw new LazyTransportListenError(this.init.name)
  }

  readonly listenFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => multiaddrs.filter(this.init.matches)

  // once built, the real transport's own filter decides
  readonly dialFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => this.built?.dialFilter(multiaddrs) ?? multiaddrs.filter(this.init.matches)

  private async real (): Promise<Transport> {
    if (this.stopped) throw new LazyTransportStoppedError(this.init.name)
    if (this.loading == null) {
      const loading = (async () => {
        const factory = await this.init.load()
        const real = factory(this.components)
        await (real as Partial<Startable>).start?.()
        this.built = real
        return real
      })()
      // a failed load (e.g. a broken native add-on) is retried on the next dial
      loading.catch(() => { if (this.loading === loading) this.loading = undefined })
      this.loading = loading
    }
    return await this.loading
  }
}

/**
 * A transport factory for libp2p's `transports` list that imports and builds
 * the real transport on first dial (see the module comment for when not to).
 */
export function lazyTransport<C> (init: LazyTransportInit<C>): (components: C) => Transport {
  return (components) => new LazyTransport(components, init)
}
