/**
 * A SAM v3 STREAM session: one I2P destination with its tunnels, alive as
 * long as its control connection stays open, serving any number of streams
 * (STREAM CONNECT / STREAM ACCEPT each on a connection of their own).
 * Creating a session takes seconds (the router builds tunnels and publishes
 * a lease set), so beam makes one per share and one per connecting node and
 * reuses it.
 */
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { b32Of, parseB32, parseDestination, publicOfPrivate } from './destination.ts'
import { SamProtocolError } from './errors.ts'
import { expectOk, redact, SamSocket } from './sam-socket.ts'
import type { SamAddress, SamWaitOptions } from './sam-socket.ts'

/** Tunnel settings of a session (I2CP options). */
export interface TunnelOptions {
  /**
   * Hops of each inbound tunnel. 0 gives no anonymity to this side.
   * @default 3
   */
  inboundLength?: number
  /**
   * Hops of each outbound tunnel.
   * @default 3
   */
  outboundLength?: number
  /**
   * Inbound tunnels kept ready.
   * @default 2
   */
  inboundQuantity?: number
  /**
   * Outbound tunnels kept ready.
   * @default 2
   */
  outboundQuantity?: number
}

export interface SamSessionOptions {
  sam: SamAddress
  /** `TRANSIENT` for a fresh destination, or a private key blob (I2P base64, from DEST GENERATE or a key file). */
  destination: 'TRANSIENT' | string
  tunnels?: TunnelOptions
  /**
   * How long the router may take to make the session ready (tunnels built).
   * @default 120000
   */
  readyTimeoutMs?: number
  /**
   * Bound for one SAM command or stream handshake.
   * @default 30000
   */
  commandTimeoutMs?: number
  signal?: AbortSignal
}

/** A stream on this session, in the data phase. */
export interface SamStream {
  socket: Socket
  /** bytes the bridge sent after the handshake lines, already read */
  leftover: Buffer
  /** the far side's destination (I2P base64), when the bridge told it */
  remoteDestination?: string
}

export const DEFAULT_READY_TIMEOUT = 120_000
export const DEFAULT_COMMAND_TIMEOUT = 30_000

/** Generate a new destination key blob (not tied to any session). */
export async function generateDestination (sam: SamAddress, options: SamWaitOptions): Promise<{ privateKey: string, destination: string }> {
  const s = await SamSocket.open(sam, options)
  try {
    const reply = await s.command('DEST GENERATE SIGNATURE_TYPE=7', options)
    if (reply.topic !== 'DEST REPLY' || reply.params.PRIV == null) throw new SamProtocolError(`unexpected answer to DEST GENERATE: ${redact(reply.raw)}`)
    return { privateKey: reply.params.PRIV, destination: publicOfPrivate(reply.params.PRIV) }
  } finally {
    s.destroy()
  }
}

export class SamSession {
  readonly id: string
  /** public destination, I2P base64 */
  readonly destination: string
  /** `….b32.i2p` */
  readonly b32: string
  /** milliseconds SESSION CREATE took */
  readonly readyMs: number
  private readonly sam: SamAddress
  private readonly control: SamSocket
  private readonly commandTimeoutMs: number
  private queue: Promise<unknown> = Promise.resolve()
  private readonly open = new Set<SamSocket>()

  private constructor (init: { id: string, sam: SamAddress, control: SamSocket, destination: string, readyMs: number, commandTimeoutMs: number }) {
    this.id = init.id
    this.sam = init.sam
    this.control = init.control
    this.destination = init.destination
    this.b32 = b32Of(init.destination)
    this.readyMs = init.readyMs
    this.commandTimeoutMs = init.commandTimeoutMs
  }

  static async create (options: SamSessionOptions): Promise<SamSession> {
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT
    const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT
    const t = options.tunnels ?? {}
    const id = `beam-${randomBytes(6).toString('hex')}`
    const control = await SamSocket.open(options.sam, { signal: options.signal, timeoutMs: commandTimeoutMs })
    const started = Date.now()
    try {
      const opts = [
        `inbound.length=${t.inboundLength ?? 3}`,
        `outbound.length=${t.outboundLength ?? 3}`,
        `inbound.quantity=${t.inboundQuantity ?? 2}`,
        `outbound.quantity=${t.outboundQuantity ?? 2}`,
        // ECIES-X25519 lease sets only (I2P's current default encryption)
        'i2cp.leaseSetEncType=4'
      ].join(' ')
      const reply = await control.command(
        `SESSION CREATE STYLE=STREAM ID=${id} DESTINATION=${options.destination} SIGNATURE_TYPE=7 ${opts}`,
        { signal: options.signal, timeoutMs: readyTimeoutMs }
      )
      if (reply.topic !== 'SESSION STATUS') throw new SamProtocolError(`unexpected answer to SESSION CREATE: ${redact(reply.raw)}`)
      expectOk(reply, 'SESSION CREATE')
      const priv = reply.params.DESTINATION
      if (priv == null) throw new SamProtocolError('SESSION STATUS without DESTINATION')
      return new SamSession({ id, sam: options.sam, control, destination: publicOfPrivate(priv), readyMs: Date.now() - started, commandTimeoutMs })
    } catch (err) {
      control.destroy()
      throw err
    }
  }

  /** Whether the router still holds this session (its control connection is open). */
  get alive (): boolean {
    return !this.control.closed
  }

  /** Called once when the router drops the session (or close() is called). */
  onClose (fn: () => void): void {
    this.control.onClose(fn)
  }

  /**
   * Resolve a `.b32.i2p` name (or `ME`) to a full destination through this
   * session (the router looks the lease set up in its network database).
   */
  async lookup (name: string, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<string> {
    const target = name === 'ME' ? 'ME' : `${parseB32(name)}.b32.i2p`
    return await this.serial(async () => {
      const reply = await this.control.command(`NAMING LOOKUP NAME=${target}`, { signal: options.signal, timeoutMs: options.timeoutMs ?? this.commandTimeoutMs })
      if (reply.topic !== 'NAMING REPLY') throw new SamProtocolError(`unexpected answer to NAMING LOOKUP: ${redact(reply.raw)}`)
      expectOk(reply, `NAMING LOOKUP of ${target}`)
      const value = reply.params.VALUE
      if (value == null) throw new SamProtocolError('NAMING REPLY without VALUE')
      return parseDestination(value)
    })
  }

  /**
   * Open a stream to a destination (I2P base64) or `.b32.i2p` name. The
   * name form is what beam sends the bridge in both cases: i2pd 2.45 writes a
   * full base64 destination into its address book and crashes when that is
   * disabled.
   */
  async connect (target: string, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<SamStream> {
    const name = target.endsWith('.i2p') ? `${parseB32(target)}.b32.i2p` : b32Of(parseDestination(target))
    const wait = { signal: options.signal, timeoutMs: options.timeoutMs ?? this.commandTimeoutMs }
    const s = await this.streamSocket(wait)
    try {
      const reply = await s.command(`STREAM CONNECT ID=${this.id} DESTINATION=${name} SILENT=false`, wait)
      if (reply.topic !== 'STREAM STATUS') throw new SamProtocolError(`unexpected answer to STREAM CONNECT: ${redact(reply.raw)}`)
      expectOk(reply, `STREAM CONNECT to ${name}`)
      return this.toStream(s, target.endsWith('.i2p') ? undefined : target)
    } catch (err) {
      this.drop(s)
      throw err
    }
  }

  /** Wait for one incoming stream (STREAM ACCEPT). Abort with the signal to stop waiting. */
  async accept (options: { signal?: AbortSignal } = {}): Promise<SamStream> {
    const s = await this.streamSocket({ signal: options.signal, timeoutMs: this.commandTimeoutMs })
    try {
      const reply = await s.command(`STREAM ACCEPT ID=${this.id} SILENT=false`, { signal: options.signal, timeoutMs: this.commandTimeoutMs })
      if (reply.topic !== 'STREAM STATUS') throw new SamProtocolError(`unexpected answer to STREAM ACCEPT: ${redact(reply.raw)}`)
      expectOk(reply, 'STREAM ACCEPT')
      // the first line of an accepted stream: "<destination> FROM_PORT=… TO_PORT=…" (no time bound: we wait for a peer)
      const first = await s.readLine({ signal: options.signal, timeoutMs: 2 ** 31 - 1 })
      const remote = first.split(' ')[0] ?? ''
      return this.toStream(s, parseDestination(remote))
    } catch (err) {
      this.drop(s)
      throw err
    }
  }

  /** End the session: the router tears its tunnels down. Open streams end with it. */
  close (): void {
    for (const s of this.open) s.destroy()
    this.open.clear()
    this.control.destroy()
  }

  private async streamSocket (wait: SamWaitOptions): Promise<SamSocket> {
    const s = await SamSocket.open(this.sam, wait)
    this.open.add(s)
    s.onClose(() => { this.open.delete(s) })
    return s
  }

  private drop (s: SamSocket): void {
    this.open.delete(s)
    s.destroy()
  }

  private toStream (s: SamSocket, remoteDestination: string | undefined): SamStream {
    const { socket, leftover } = s.release()
    const stream: SamStream = { socket, leftover }
    if (remoteDestination != null) stream.remoteDestination = remoteDestination
    return stream
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}
