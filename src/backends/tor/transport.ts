/**
 * A libp2p transport for Tor onion services (v3).
 *
 * Dialling `/onion3/<56 chars>:<port>` opens a stream through Tor's SOCKS5
 * port (the onion goes to Tor as a name: nothing is resolved here), with
 * retries while a fresh onion's descriptor is still publishing, and a fresh
 * attempt on new circuits when one goes unanswered (`attemptTimeout`).
 *
 * Listening: a share asks for an onion service with the listen address
 * `/onion3-listen/<virtual port>` (see onion-address.ts). The listener opens
 * a TCP server on 127.0.0.1:0 that only tor reaches, asks tor for an onion
 * service mapping the virtual port to it (ADD_ONION, without Detach: it dies
 * with the control connection), waits for the descriptor upload, and reports
 * `/onion3/<service id>:<virtual port>` as its address. close() sends
 * DEL_ONION.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { serviceCapabilities, transportSymbol, TypedEventEmitter } from '@libp2p/interface'
import type { ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, ListenerEvents, Logger as Libp2pLogger, Transport, Upgrader } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BackendLogger as Logger } from '../backend.ts'
import { TorControl } from './control.ts'
import { socketToConnection } from './connection.ts'
import { SocksError, TorConfigError } from './errors.ts'
import { socksConnect, socksRetryable } from './socks.ts'
import { isOnionListen, parseOnionAddress, TOR_PROFILE } from './onion-address.ts'
import type { OnionNetworkProfile } from './onion-address.ts'


/** Host and port of Tor's control and SOCKS ports, and what the transport needs. */
export interface TorTransportInit {
  /** @default '127.0.0.1' */
  socksHost?: string
  /** @default 9050 */
  socksPort?: number
  /** @default '127.0.0.1' */
  controlHost?: string
  /** @default 9051 */
  controlPort?: number
  /** Control-port password. @default unset (no auth or cookie, as PROTOCOLINFO says) */
  controlPassword?: string
  /** File with the onion service's key (`ED25519-V3:…`), made 0600 on first use. @default unset (a new onion address each run) */
  keyFile?: string
  /** Base32 x25519 public keys of the clients allowed to discover the onion (restricted discovery). @default [] (anyone with the address) */
  clientAuth?: string[]
  /** Onion → base64 x25519 private key, for dialling onions that restrict discovery (needs the control port). @default {} */
  clientAuthKeys?: Record<string, string>
  /** One base64 x25519 private key for every onion this node dials (the CLI's --tor-client-key). @default unset */
  clientAuthKey?: string
  /** How long a listener waits for its descriptor to reach an HSDir, in ms. @default 60000 */
  publishTimeout?: number
  /** Delay before the first retry of a refused dial, in ms; doubles up to 5 s. @default 500 */
  retryDelay?: number
  /**
   * How long one SOCKS attempt may go unanswered before beam drops it and
   * tries again with fresh stream-isolation credentials (so on new circuits),
   * in ms. A circuit can stall without tor ever replying (its own SocksTimeout
   * is 2 minutes), and one stalled attempt must not use up the whole dial
   * timeout. @default 30000
   */
  attemptTimeout?: number
  /** User-facing progress (waiting for a descriptor, onion published). @default silent */
  log?: Logger
  /** Which Tor-protocol network this is (protocols, SOCKS host suffix). @default TOR_PROFILE */
  profile?: OnionNetworkProfile
}

interface Components {
  logger: ComponentLogger
}

class TorTransport implements Transport {
  readonly [transportSymbol] = true as const
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']
  get [Symbol.toStringTag] (): string { return `beam/${this.profile.name}` }
  private readonly init: TorTransportInit
  readonly profile: OnionNetworkProfile
  private readonly log: Libp2pLogger
  private readonly clientAuthDone = new Set<string>()

  constructor (components: Components, init: TorTransportInit) {
    this.init = init
    this.profile = init.profile ?? TOR_PROFILE
    this.log = components.logger.forComponent(`beam:${this.profile.name}`)
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    const p = this.profile
    const onion = parseOnionAddress(ma, p.addressProtocol)
    if (onion == null) throw new TorConfigError(`not an ${p.addressProtocol} address: ${ma.toString()}`)
    await this.ensureClientAuth(onion.serviceId, options.signal)
    const host = `${onion.serviceId}${p.hostSuffix}`
    const user = this.init.log?.child({ component: p.name })
    let delay = this.init.retryDelay ?? 500
    const attemptTimeout = this.init.attemptTimeout ?? 30_000
    let attempt = 0
    const start = Date.now()
    for (;;) {
      attempt++
      options.signal.throwIfAborted()
      const stalled = new AbortController()
      const timer = setTimeout(() => { stalled.abort(new SocksError(`no answer from the ${p.label} SOCKS port for ${host} within ${attemptTimeout / 1000} s`, -1)) }, attemptTimeout)
      try {
        // fresh credentials per attempt: Tor isolates the stream on a new circuit
        const socket = await socksConnect({
          proxyHost: this.init.socksHost ?? '127.0.0.1',
          proxyPort: this.init.socksPort ?? 9050,
          host,
          port: onion.port,
          username: `beam-${randomBytes(8).toString('hex')}`,
          password: 'x',
          signal: AbortSignal.any([options.signal, stalled.signal])
        })
        clearTimeout(timer)
        if (attempt > 1) user?.info({ attempts: attempt, ms: Date.now() - start }, `reached ${host} after ${attempt} attempts`)
        const remoteAddr = multiaddr(`/${p.addressProtocol}/${onion.serviceId}:${onion.port}`)
        const maConn = socketToConnection({ socket, remoteAddr, direction: 'outbound', log: this.log.newScope('connection') })
        try {
          return await options.upgrader.upgradeOutbound(maConn, options)
        } catch (err) {
          maConn.abort(err as Error)
          throw err
        }
      } catch (err) {
        clearTimeout(timer)
        if (options.signal.aborted) throw err
        if (stalled.signal.aborted && err === stalled.signal.reason) {
          // no reply at all: a stalled circuit, not a refusal; retry at once on new circuits
          this.log('attempt %d to %s stalled for %d ms, retrying on fresh circuits', attempt, host, attemptTimeout)
          user?.warn({ attempt, stalledMs: attemptTimeout }, `${p.label} has not reached ${host} within ${attemptTimeout / 1000} s; trying again on fresh circuits`)
          continue
        }
        if (!(err instanceof SocksError) || !socksRetryable(err.reply)) throw err
        user?.info({ attempt, retryMs: delay, reason: err.message }, `waiting for ${host} to become reachable (its descriptor may still be publishing): ${err.message}; retrying in ${delay} ms`)
        await new Promise<void>(resolve => {
          const t = setTimeout(done, delay)
          function done (): void { clearTimeout(t); options.signal.removeEventListener('abort', done); resolve() }
          options.signal.addEventListener('abort', done, { once: true })
        })
        delay = Math.min(delay * 2, 5000)
      }
    }
  }

  /** For onions with restricted discovery: hand tor the client key once per onion. */
  private async ensureClientAuth (serviceId: string, signal: AbortSignal): Promise<void> {
    const key = this.init.clientAuthKeys?.[serviceId] ?? this.init.clientAuthKey
    if (key == null || this.clientAuthDone.has(serviceId)) return
    const ctl = await TorControl.connect(this.controlOptions(signal))
    try {
      await ctl.addClientAuth(serviceId, key)
      this.clientAuthDone.add(serviceId)
    } finally {
      ctl.close()
    }
  }

  controlOptions (signal?: AbortSignal): Parameters<typeof TorControl.connect>[0] {
    return {
      host: this.init.controlHost ?? '127.0.0.1',
      port: this.init.controlPort ?? 9051,
      ...(this.init.controlPassword != null ? { password: this.init.controlPassword } : {}),
      ...(this.init.log != null ? { log: this.init.log } : {}),
      ...(signal != null ? { signal } : {})
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new OnionListener(this, this.init, options.upgrader, this.log)
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => isOnionListen(ma, this.profile.listenProtocol))
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => parseOnionAddress(ma, this.profile.addressProtocol) != null)
  }
}

class OnionListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly transport: TorTransport
  private readonly init: TorTransportInit
  private readonly upgrader: Upgrader
  private readonly log: Libp2pLogger
  private server: net.Server | undefined
  private control: TorControl | undefined
  private serviceId: string | undefined
  private virtualPort = 0
  private readonly sockets = new Set<net.Socket>()
  private readonly shutdown = new AbortController()

  constructor (transport: TorTransport, init: TorTransportInit, upgrader: Upgrader, log: Libp2pLogger) {
    super()
    this.transport = transport
    this.init = init
    this.upgrader = upgrader
    this.log = log
  }

  async listen (ma: Multiaddr): Promise<void> {
    const p = this.transport.profile
    const user = this.init.log?.child({ component: p.name })
    this.virtualPort = Number(ma.getComponents()[0]?.value ?? '0')
    const server = net.createServer({ noDelay: true }, socket => { this.onSocket(socket) })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // loopback only: tor is the only client
      server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
    })
    const local = server.address()
    const localPort = typeof local === 'object' && local != null ? local.port : 0
    try {
      const control = await TorControl.connect(this.transport.controlOptions(this.shutdown.signal))
      this.control = control
      const wrong = await p.checkDaemon?.(control)
      if (wrong != null) throw new TorConfigError(`${p.label} control port: ${wrong}`)
      await control.setEvents(['HS_DESC'])
      const persisted = await readKey(this.init.keyFile)
      const added = await control.addOnion({
        virtualPort: this.virtualPort,
        target: `127.0.0.1:${localPort}`,
        ...(persisted != null ? { privateKey: persisted } : {}),
        ...(this.init.clientAuth != null ? { clientAuth: this.init.clientAuth } : {})
      })
      this.serviceId = added.serviceId
      if (this.init.keyFile != null && persisted == null && added.privateKey != null) await writeKey(this.init.keyFile, added.privateKey)
      user?.info({ onion: `${added.serviceId}${p.hostSuffix}`, virtualPort: this.virtualPort }, `onion service ${added.serviceId}${p.hostSuffix} created; waiting for its descriptor to be published`)
      const start = Date.now()
      const timeout = this.init.publishTimeout ?? 60_000
      try {
        await control.waitForUpload(added.serviceId, AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(timeout)]))
        user?.info({ ms: Date.now() - start }, `onion service descriptor published in ${Date.now() - start} ms`)
      } catch (err) {
        if (this.shutdown.signal.aborted) throw err
        user?.warn(`the onion descriptor was not published within ${timeout / 1000} s; connectors will retry until it is`)
      }
      control.on('close', () => {
        if (this.shutdown.signal.aborted) return
        user?.error(`the ${p.label} control connection closed: ${p.name} removed the onion service; this share is unreachable until restarted`)
        this.safeDispatchEvent('error', { detail: new Error(`${p.label} control connection closed`) })
      })
    } catch (err) {
      await this.close()
      throw err
    }
    this.safeDispatchEvent('listening')
  }

  private onSocket (socket: net.Socket): void {
    if (this.serviceId == null) { socket.destroy(); return }
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
    socket.pause()
    // the peer is anonymous: its address is the onion it came in through
    const remoteAddr = multiaddr(`/${this.transport.profile.addressProtocol}/${this.serviceId}:${this.virtualPort}`)
    let maConn
    try {
      maConn = socketToConnection({ socket, remoteAddr, direction: 'inbound', log: this.log.newScope('connection') })
    } catch (err) {
      this.log.error('could not wrap an inbound onion connection: %s', (err as Error).message)
      socket.destroy()
      return
    }
    const signal = this.upgrader.createInboundAbortSignal(this.shutdown.signal)
    this.upgrader.upgradeInbound(maConn, { signal })
      .catch((err: Error) => { this.log.error('inbound onion connection failed to upgrade: %s', err.message); maConn.abort(err) })
      .finally(() => { signal.clear() })
  }

  getAddrs (): Multiaddr[] {
    return this.serviceId != null ? [multiaddr(`/${this.transport.profile.addressProtocol}/${this.serviceId}:${this.virtualPort}`)] : []
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    if (this.shutdown.signal.aborted) return
    this.shutdown.abort()
    const control = this.control
    if (control != null && !control.isClosed && this.serviceId != null) {
      await Promise.race([control.delOnion(this.serviceId).catch(() => {}), new Promise(resolve => setTimeout(resolve, 2000))])
    }
    control?.close()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => { if (this.server?.listening === true) this.server.close(() => { resolve() }); else resolve() })
    this.safeDispatchEvent('close')
  }
}

async function readKey (file: string | undefined): Promise<string | undefined> {
  if (file == null) return undefined
  let text: string
  try {
    text = (await readFile(file, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new TorConfigError(`cannot read the onion key ${file}: ${(err as Error).message}`)
  }
  if (!/^ED25519-V3:[A-Za-z0-9+/=]{80,100}$/.test(text)) throw new TorConfigError(`${file} is not an onion key (expected one line ED25519-V3:<base64>)`)
  return text
}

async function writeKey (file: string, key: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' })
}

/** The transport factory for `createLibp2p({ transports })`. */
export function torTransport (init: TorTransportInit = {}): (components: Components) => Transport {
  return (components) => new TorTransport(components, init)
}
