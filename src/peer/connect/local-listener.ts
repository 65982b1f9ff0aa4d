import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import type { Readable, Writable } from 'node:stream'
import { listenTcp, listenUnix, pipeSocketStream, pipeStreamIo, resetSocket } from '../../tunnel/index.ts'
import type { LocalListener, PipeResult } from '../../tunnel/index.ts'
import { DEFAULT_LOCAL_HOST } from '../constants.ts'
import { TunnelRefusedError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ConnectEvents, ConnectLiveTunnel, ConnectTunnelCloseEvent } from './events.ts'
import type { EarlyData } from './tunnel-stream.ts'

/** Options and components of a {@link LocalClients}. */
export interface LocalClientsInit {
  /** Local address to bind. @default '127.0.0.1' */
  host?: string | undefined
  /** Local port to bind; 0 = any free port. @default 0 */
  port?: number | undefined
  /** A unix socket to listen on instead of a TCP port (mode 0600, removed on close). @default unset */
  path?: string | undefined
  /** The shared port asked for (for the `tunnel:open` event). */
  remotePort: number
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `tunnel:*` and `refused` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** Opens a tunnel stream for one client, sending its early data with the request (TunnelStreams.open). */
  open: (signal: AbortSignal, early: EarlyData) => Promise<Stream>
  /** The remote addresses of the connections to the peer, for the debug log. */
  describeConnections: () => string[]
  /** Set when the owner closed: clients that arrive then are closed. */
  shutdown: AbortSignal
}

/**
 * The local TCP port of a connect tunnel: each client that connects gets its
 * own tunnel stream to the share, with the bytes it sends before the share
 * answers riding along with the request (early data), then the byte pipe.
 */
export class LocalClients {
  private readonly init: LocalClientsInit
  private listener: LocalListener | undefined
  private readonly active = new Set<AbortController>()
  private readonly live = new Map<number, { early: { taken: () => number }, counts: { sent: number, received: number } }>()
  private nextId = 1

  constructor (init: LocalClientsInit) {
    this.init = init
  }

  /** Local address clients connect to ('' until bound, and for a unix socket). */
  get host (): string { return this.listener?.host ?? '' }
  /** Local port clients connect to (0 until bound, and for a unix socket). */
  get port (): number { return this.listener?.port ?? 0 }
  /** The unix socket clients connect to, if that is what was bound. */
  get path (): string | undefined { return this.listener?.path }

  /** The local clients joined to the share now, with their byte counts so far (sent: to the share). */
  liveTunnels (): ConnectLiveTunnel[] {
    return [...this.live].map(([id, t]) => ({ id, sent: t.early.taken() + t.counts.sent, received: t.counts.received }))
  }

  /** Bind the local port (or unix socket). */
  async start (): Promise<void> {
    const onSocket = (socket: Socket): void => {
      this.onSocket(socket).catch(err => { this.init.log.error({ err }, 'local connection handler failed') })
    }
    this.listener = this.init.path != null
      ? await listenUnix(this.init.path, onSocket)
      : await listenTcp(this.init.host ?? DEFAULT_LOCAL_HOST, this.init.port ?? 0, onSocket)
  }

  /**
   * Carry one tunnel between `input` and `output` (a process's standard
   * input and output), with the same events as a local client's: resolves
   * when it has ended (see pipeStreamIo), rejects when it cannot open.
   */
  async pipe (input: Readable, output: Writable, signal?: AbortSignal): Promise<PipeResult> {
    const { log, events, remotePort } = this.init
    const id = this.nextId++
    this.init.shutdown.throwIfAborted()
    const ctl = new AbortController()
    const stop = (): void => { ctl.abort() }
    signal?.addEventListener('abort', stop, { once: true })
    this.active.add(ctl)
    try {
      let stream: Stream
      try {
        stream = await this.init.open(ctl.signal, NO_EARLY_DATA)
      } catch (err) {
        const e = err as Error
        events.emit('tunnel:failed', { id, error: e })
        if (e instanceof TunnelRefusedError) events.emit('refused', e)
        throw e
      }
      log.debug({ tunnel: id, via: stream.protocol, conns: this.init.describeConnections() }, 'tunnel open (standard input and output)')
      events.emit('tunnel:open', { id, remotePort })
      const counts = { sent: 0, received: 0 }
      this.live.set(id, { early: NO_EARLY_DATA_TAKEN, counts })
      let result: PipeResult
      try {
        result = await pipeStreamIo(stream, input, output, { signal: ctl.signal, counts })
      } finally {
        this.live.delete(id)
      }
      const ev: ConnectTunnelCloseEvent = { id, sent: result.sent, received: result.received }
      if (result.error != null) ev.error = result.error.message
      events.emit('tunnel:close', ev)
      return result
    } finally {
      signal?.removeEventListener('abort', stop)
      this.active.delete(ctl)
    }
  }

  /** Reset every open tunnel, then unbind the port (its close waits for its sockets). */
  async close (): Promise<void> {
    for (const c of this.active) c.abort()
    if (this.listener != null) await this.listener.close()
  }

  private async onSocket (socket: Socket): Promise<void> {
    const { log, events, remotePort } = this.init
    const id = this.nextId++
    if (this.init.shutdown.aborted) {
      socket.destroy()
      return
    }
    const ctl = new AbortController()
    this.active.add(ctl)
    socket.on('error', () => {})
    try {
      let stream: Stream
      // What the local client sent while the stream was being opened goes
      // with the tunnel request: a client that speaks first (an HTTP request,
      // a TLS hello) then has its answer one round trip sooner. The pipe sees
      // the rest, and an EOF that came with those bytes (socket.readableEnded).
      const early = socketEarlyData(socket)
      // the listener accepts sockets paused: read(0) starts filling the
      // socket's buffer (up to its high-water mark, then the kernel's window
      // holds the client back) without switching it to flowing mode
      socket.read(0)
      try {
        stream = await this.init.open(ctl.signal, early)
      } catch (err) {
        const e = err as Error
        log.warn({ tunnel: id, err: e.message }, 'cannot open tunnel; closing the local connection')
        resetSocket(socket)
        events.emit('tunnel:failed', { id, error: e })
        if (e instanceof TunnelRefusedError) events.emit('refused', e)
        return
      }
      log.debug({ tunnel: id, via: stream.protocol, conns: this.init.describeConnections() }, 'tunnel open')
      events.emit('tunnel:open', { id, remotePort })
      const counts = { sent: 0, received: 0 }
      this.live.set(id, { early, counts })
      let result
      try {
        result = await pipeSocketStream(socket, stream, { signal: ctl.signal, counts })
      } finally {
        this.live.delete(id)
      }
      const ev: ConnectTunnelCloseEvent = { id, sent: early.taken() + result.sent, received: result.received }
      // the client's own reset is how it chose to end: a normal close
      if (result.localReset === true) {
        ev.reason = 'client-reset'
        log.debug({ tunnel: id, sent: ev.sent, received: ev.received }, 'tunnel closed: the local client reset its connection')
      } else if (result.error != null) {
        ev.error = result.error.message
        log.debug({ tunnel: id, err: result.error.message }, 'tunnel reset')
      } else {
        log.debug({ tunnel: id, sent: ev.sent, received: ev.received }, 'tunnel closed')
      }
      events.emit('tunnel:close', ev)
    } finally {
      this.active.delete(ctl)
    }
  }
}

/** Early data of a tunnel whose first bytes are not read ahead (standard input). */
const NO_EARLY_DATA: EarlyData = { take: () => undefined, watch: () => () => {} }
/** Its count of bytes taken, for the live counts: none. */
const NO_EARLY_DATA_TAKEN = { taken: () => 0 }

/** A paused socket's first bytes as {@link EarlyData}, and how many were taken. */
export function socketEarlyData (socket: Socket): EarlyData & { taken: () => number } {
  let taken = 0
  return {
    take: () => {
      if (socket.readableLength === 0 || socket.destroyed) return undefined
      const chunk: unknown = socket.read()
      if (!(chunk instanceof Uint8Array)) return undefined
      taken += chunk.byteLength
      return chunk
    },
    watch: (onReadable) => {
      socket.on('readable', onReadable)
      return () => { socket.off('readable', onReadable) }
    },
    taken: () => taken
  }
}
