import type { EventEmitter } from 'node:events'
import type { RemoteInfo } from 'node:dgram'
import type { Stream } from '@libp2p/interface'
import { bindUdp, DatagramStream, DEFAULT_DATAGRAM_IDLE_TIMEOUT } from '../../tunnel/index.ts'
import type { UdpEndpoint } from '../../tunnel/index.ts'
import { DEFAULT_LOCAL_HOST } from '../constants.ts'
import { TunnelRefusedError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ConnectEvents, ConnectLiveTunnel } from './events.ts'

/** UDP sources served at once by one connect tunnel. */
export const DEFAULT_MAX_DATAGRAM_SESSIONS = 256

/** Datagrams of a source held while its tunnel opens; later ones are dropped until it is open. */
const MAX_QUEUED_DATAGRAMS = 64

/** How often dropped datagrams are logged, at most, in ms. */
const DROP_WARN_INTERVAL = 10_000

/** Options and components of a {@link LocalDatagrams}. */
export interface LocalDatagramsInit {
  /** Local address to bind. @default '127.0.0.1' */
  host?: string | undefined
  /** Local UDP port to bind; 0 = any free port. @default 0 */
  port?: number | undefined
  /** The shared port asked for (for the `tunnel:open` event). */
  remotePort: number
  /** A session that carries nothing either way for this long is closed, in ms. @default 60000 */
  idleTimeout?: number | undefined
  /** Sources (address and port) served at once; datagrams of further ones are dropped. @default 256 */
  maxSessions?: number | undefined
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `tunnel:*` and `refused` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** Opens a datagram tunnel stream (TunnelStreams.open with the udp flag). */
  open: (signal: AbortSignal) => Promise<Stream>
  /** Set when the owner closed. */
  shutdown: AbortSignal
}

interface Session {
  id: number
  ctl: AbortController
  queue: Buffer[]
  datagrams?: DatagramStream
}

/**
 * The local UDP port of a connect tunnel: each source (address and port)
 * that sends to it gets its own datagram tunnel to the share, so that the
 * service's answers come back to that source alone. A session ends after
 * `idleTimeout` without a datagram either way (the service's socket on the
 * share ends with it), or when the share ends it.
 */
export class LocalDatagrams {
  private readonly init: LocalDatagramsInit
  private endpoint: UdpEndpoint | undefined
  private readonly sessions = new Map<string, Session>()
  private readonly maxSessions: number
  private nextId = 1
  private dropped = 0
  private lastDropWarn = -Infinity

  constructor (init: LocalDatagramsInit) {
    this.init = init
    this.maxSessions = init.maxSessions ?? DEFAULT_MAX_DATAGRAM_SESSIONS
  }

  /** Local address datagrams are sent to ('' until bound). */
  get host (): string { return this.endpoint?.host ?? '' }
  /** Local UDP port (0 until bound). */
  get port (): number { return this.endpoint?.port ?? 0 }

  /** The datagram tunnels open now, with their payload bytes so far (sent: to the share). */
  liveTunnels (): ConnectLiveTunnel[] {
    return [...this.sessions.values()].flatMap(s => s.datagrams != null ? [{ id: s.id, sent: s.datagrams.progress.sentBytes, received: s.datagrams.progress.receivedBytes }] : [])
  }

  /** Bind the local UDP port. */
  async start (): Promise<void> {
    this.endpoint = await bindUdp(this.init.host ?? DEFAULT_LOCAL_HOST, this.init.port ?? 0, (msg, from) => { this.onDatagram(msg, from) })
  }

  /** Reset every session, then unbind the port. */
  async close (): Promise<void> {
    for (const s of this.sessions.values()) s.ctl.abort()
    this.sessions.clear()
    await this.endpoint?.close()
  }

  private drop (why: string): void {
    this.dropped++
    const now = performance.now()
    if (now - this.lastDropWarn < DROP_WARN_INTERVAL) return
    this.lastDropWarn = now
    this.init.log.warn({ dropped: this.dropped }, `UDP datagrams dropped: ${why} (logged at most every 10 s)`)
  }

  private onDatagram (msg: Buffer, from: RemoteInfo): void {
    if (this.init.shutdown.aborted) return
    const key = `${from.address}|${from.port}`
    const session = this.sessions.get(key)
    if (session != null) {
      if (session.datagrams != null) {
        if (!session.datagrams.send(msg)) this.drop('the tunnel is full or closing')
      } else if (session.queue.length < MAX_QUEUED_DATAGRAMS) session.queue.push(msg)
      else this.drop('the tunnel of their source is still opening')
      return
    }
    if (this.sessions.size >= this.maxSessions) {
      this.drop(`${this.maxSessions} sources are served already`)
      return
    }
    const created: Session = { id: this.nextId++, ctl: new AbortController(), queue: [msg] }
    this.sessions.set(key, created)
    this.serve(key, created, from).catch(err => { this.init.log.error({ err }, 'datagram session failed') })
  }

  private async serve (key: string, session: Session, from: RemoteInfo): Promise<void> {
    const { log, events, remotePort } = this.init
    const { id } = session
    try {
      let stream: Stream
      try {
        stream = await this.init.open(AbortSignal.any([session.ctl.signal, this.init.shutdown]))
      } catch (err) {
        const e = err as Error
        log.warn({ tunnel: id, source: `${from.address}:${from.port}`, err: e.message }, 'cannot open the datagram tunnel; its datagrams are dropped')
        events.emit('tunnel:failed', { id, error: e })
        if (e instanceof TunnelRefusedError) events.emit('refused', e)
        return
      }
      const socket = this.endpoint?.socket
      const datagrams = new DatagramStream(stream, {
        deliver: (d) => { socket?.send(d, from.port, from.address) },
        idleTimeout: this.init.idleTimeout ?? DEFAULT_DATAGRAM_IDLE_TIMEOUT,
        signal: session.ctl.signal
      })
      session.datagrams = datagrams
      log.debug({ tunnel: id, source: `${from.address}:${from.port}` }, 'datagram tunnel open')
      events.emit('tunnel:open', { id, remotePort })
      for (const m of session.queue.splice(0)) datagrams.send(m)
      const result = await datagrams.done
      log.debug({ tunnel: id, datagramsSent: result.sent, datagramsReceived: result.received, dropped: result.dropped }, 'datagram tunnel closed')
      events.emit('tunnel:close', { id, sent: result.sentBytes, received: result.receivedBytes, ...(result.error != null ? { error: result.error.message } : {}) })
    } finally {
      if (this.sessions.get(key) === session) this.sessions.delete(key)
    }
  }
}
