/**
 * The libp2p transport for I2P: dials `/garlic64/…` and `/garlic32/…` with
 * STREAM CONNECT on one shared SAM session (made on the first dial, kept
 * until the node stops), and listens with I2pListener.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { serviceCapabilities, transportSymbol } from '@libp2p/interface'
import type { ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, Logger, Startable, Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { I2pListener } from './listener.ts'
import { isI2pMultiaddr, parseI2pMultiaddr } from './multiaddr.ts'
import { resolveOptions } from './options.ts'
import type { I2pBackendOptions, ResolvedI2pOptions } from './options.ts'
import { toSamConnection } from './sam-conn.ts'
import { SamSession } from './sam-session.ts'
import type { SamStream } from './sam-session.ts'
import { SamProtocolError } from './errors.ts'

const REACH_RETRY_FIRST = 1000
const REACH_RETRY_MAX = 8000

export interface I2pTransportComponents {
  logger: ComponentLogger
}

export class I2pTransport implements Transport, Startable {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = 'beam:i2p'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']
  private readonly options: ResolvedI2pOptions
  private readonly components: I2pTransportComponents
  private readonly log: Logger
  private dialSession?: Promise<SamSession>
  private readonly shutdown = new AbortController()

  constructor (components: I2pTransportComponents, options: ResolvedI2pOptions) {
    this.components = components
    this.options = options
    this.log = components.logger.forComponent('beam:i2p:transport')
  }

  start (): void {}

  stop (): void {
    this.shutdown.abort()
    const s = this.dialSession
    this.dialSession = undefined
    s?.then(session => { session.close() }, () => {})
  }

  /** The connector's session, shared by all dials. A failed or dropped session is made anew on the next dial. */
  private async session (signal: AbortSignal): Promise<SamSession> {
    if (this.dialSession == null) {
      const o = this.options
      const started = Date.now()
      o.log?.info({ sam: `${o.sam.host}:${o.sam.port}` }, 'creating an I2P session for dialling (the router builds tunnels: usually 5-30 s)…')
      const created = SamSession.create({
        sam: o.sam,
        destination: 'TRANSIENT',
        tunnels: o.tunnels,
        readyTimeoutMs: o.sessionReadyTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
        signal: this.shutdown.signal
      })
      this.dialSession = created
      created.then(s => {
        this.log('dial session ready in %d ms (%s)', s.readyMs, s.b32)
        o.log?.info({ ms: Date.now() - started }, `I2P session ready in ${Date.now() - started} ms`)
        s.onClose(() => { if (this.dialSession === created) this.dialSession = undefined })
      }, () => { if (this.dialSession === created) this.dialSession = undefined })
    }
    const pending = this.dialSession
    // the caller may give up waiting; the session stays for the next dial
    return await new Promise<SamSession>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason instanceof Error ? signal.reason : new Error('dial aborted')) }
      signal.addEventListener('abort', onAbort, { once: true })
      pending.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
    })
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted()
    const target = parseI2pMultiaddr(ma)
    const session = await this.session(options.signal)
    const to = target.kind === 'garlic64' ? target.destination : `${target.b32}.b32.i2p`
    this.log('STREAM CONNECT to %s', target.kind === 'garlic64' ? 'a garlic64 destination' : to)
    const stream = await this.connectWithRetry(session, to, options.signal)
    const maConn = toSamConnection({
      socket: stream.socket,
      leftover: stream.leftover,
      direction: 'outbound',
      remoteAddr: ma,
      closeTimeoutMs: this.options.closeTimeoutMs,
      log: this.components.logger.forComponent('beam:i2p:connection')
    })
    try {
      return await options.upgrader.upgradeOutbound(maConn, options)
    } catch (err) {
      maConn.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /**
   * STREAM CONNECT, again while the router cannot find the far side's lease
   * set (CANT_REACH_PEER): a share that just came up has a ready session
   * before its lease set reaches the floodfills (seconds on i2pd 2.45).
   * Bounded by the dial's signal and by `reachRetryMs`.
   */
  private async connectWithRetry (session: SamSession, to: string, signal: AbortSignal): Promise<SamStream> {
    const deadline = Date.now() + this.options.reachRetryMs
    let delay = REACH_RETRY_FIRST
    for (let attempt = 1; ; attempt++) {
      try {
        return await session.connect(to, { signal, timeoutMs: this.options.commandTimeoutMs })
      } catch (err) {
        const unreachable = err instanceof SamProtocolError && err.result === 'CANT_REACH_PEER'
        if (!unreachable || signal.aborted || Date.now() + delay > deadline) throw err
        this.log('lease set of the destination not found yet (attempt %d), retrying in %d ms', attempt, delay)
        if (attempt === 1) this.options.log?.info('waiting for the share\'s destination to be published in the I2P network database…')
        await sleep(delay, undefined, { signal }).catch(() => {})
        delay = Math.min(delay * 2, REACH_RETRY_MAX)
      }
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new I2pListener({ ...options, options: this.options, logger: this.components.logger })
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => isI2pMultiaddr(ma) && ma.getComponents()[0]?.name === 'garlic64' && ma.getComponents().length === 1)
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => isI2pMultiaddr(ma))
  }
}

/** A libp2p transport factory for I2P, as `createLibp2p({ transports: [i2p({ … })] })` takes it. */
export function i2p (options: I2pBackendOptions = {}): (components: I2pTransportComponents) => I2pTransport {
  const resolved = resolveOptions(options)
  return (components) => new I2pTransport(components, resolved)
}
