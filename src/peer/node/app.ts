import { lpStream } from '@libp2p/utils'
import { streamToDuplex } from '../../tunnel/index.ts'
import { raceDial } from '../connect/dialer.ts'
import { knownAddresses } from '../discovery/known-addresses.ts'
import { PeerUnreachableError } from '../errors.ts'
import { DEFAULT_DIAL_TIMEOUT } from '../constants.ts'
import type { Duplex } from 'node:stream'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { RacingPeers } from '../connect/dialer.ts'
import type { PeerResolver } from '../discovery/resolver.ts'
import type { Target } from '../discovery/target.ts'
import type { Logger } from '../logger.ts'

/**
 * The app API of a node: app protocols served and opened as Node.js streams,
 * and app messages and calls (Veilid-style `app_message` / `app_call`):
 * small byte payloads between nodes, each on its own short stream,
 * authenticated by the connection (the sender is the peer that the Noise
 * handshake proved). First the wire format, then {@link AppApi}, what
 * BeamNode's handle/open/onMessage/onCall/send/call delegate to.
 */

/** One-way messages. */
export const MESSAGE_PROTOCOL = '/beam/app/message/1.0.0'
/** Request/response calls. */
export const CALL_PROTOCOL = '/beam/app/call/1.0.0'
/** Largest message, call request or reply, in bytes (Veilid's limit, too). */
export const MAX_APP_MESSAGE = 32 * 1024

/** A message, request or reply above {@link MAX_APP_MESSAGE}. */
export class MessageTooLargeError extends Error {
  constructor (size: number) {
    super(`app message of ${size} bytes exceeds the limit of ${MAX_APP_MESSAGE}`)
    this.name = 'MessageTooLargeError'
  }
}

/** The remote call handler failed, or the peer has none. */
export class RemoteCallError extends Error {
  /** The peer that was called. */
  readonly remote: string
  constructor (message: string, remote: string) {
    super(message)
    this.name = 'RemoteCallError'
    this.remote = remote
  }
}

/** Who sent a message or call: the authenticated peer and the connection. */
export interface AppSender {
  /** The sender, as proven by the connection's Noise handshake. */
  peerId: PeerId
  /** The libp2p connection it came on (relayed or direct). */
  connection: Connection
}

/** Receives each app message; see {@link BeamNode.onMessage}. */
export type MessageHandler = (data: Uint8Array, from: AppSender) => void | Promise<void>
/** Answers each app call (the reply at most {@link MAX_APP_MESSAGE} bytes; a throw becomes the caller's RemoteCallError); see {@link BeamNode.onCall}. */
export type CallHandler = (request: Uint8Array, from: AppSender) => Uint8Array | Promise<Uint8Array>

const STATUS_OK = 0
const STATUS_ERROR = 1
const STATUS_NO_HANDLER = 2

export function checkSize (data: Uint8Array): void {
  if (data.byteLength > MAX_APP_MESSAGE) throw new MessageTooLargeError(data.byteLength)
}

/** Write one message on a fresh stream and close it. */
export async function writeMessage (stream: Stream, data: Uint8Array, signal: AbortSignal): Promise<void> {
  checkSize(data)
  const lp = lpStream(stream, { maxDataLength: MAX_APP_MESSAGE })
  await lp.write(data, { signal })
  await stream.close({ signal })
}

/** Serve one inbound message stream. */
export async function readMessage (stream: Stream, signal: AbortSignal): Promise<Uint8Array> {
  const lp = lpStream(stream, { maxDataLength: MAX_APP_MESSAGE })
  const msg = await lp.read({ signal })
  await stream.close({ signal }).catch(() => {})
  return msg.subarray()
}

/** Send a request and read the reply. Throws RemoteCallError if the peer's handler failed. */
export async function writeCall (stream: Stream, request: Uint8Array, remote: string, signal: AbortSignal): Promise<Uint8Array> {
  checkSize(request)
  const lp = lpStream(stream, { maxDataLength: MAX_APP_MESSAGE + 1 })
  await lp.write(request, { signal })
  const reply = (await lp.read({ signal })).subarray()
  await stream.close({ signal }).catch(() => {})
  const status = reply[0]
  const body = reply.subarray(1)
  if (status === STATUS_OK) return body
  const text = new TextDecoder().decode(body)
  throw new RemoteCallError(status === STATUS_NO_HANDLER ? `${remote} takes no calls` : `${remote} answered with an error: ${text}`, remote)
}

/** Serve one inbound call with `handler` (undefined: "no handler"). */
export async function answerCall (stream: Stream, handler: CallHandler | undefined, from: AppSender, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_APP_MESSAGE + 1 })
  const request = (await lp.read({ signal })).subarray()
  let status = STATUS_OK
  let body: Uint8Array
  if (handler == null) {
    status = STATUS_NO_HANDLER
    body = new Uint8Array(0)
  } else {
    try {
      body = await handler(request, from)
      checkSize(body)
    } catch (err) {
      status = STATUS_ERROR
      // only the message crosses the wire, never a stack
      body = new TextEncoder().encode(((err as Error).message ?? 'error').slice(0, 1024))
    }
  }
  const out = new Uint8Array(body.byteLength + 1)
  out[0] = status
  out.set(body, 1)
  await lp.write(out, { signal })
  await stream.close({ signal }).catch(() => {})
}

/** Options of {@link BeamNode.handle}. */
export interface HandleOptions {
  /** Inbound streams of this protocol per connection at once. @default 256 */
  maxInboundStreams?: number
  /** Outbound streams of this protocol per connection at once. @default 256 */
  maxOutboundStreams?: number
}

/** Streams of an app protocol, each way per connection, when {@link HandleOptions} does not say. */
const DEFAULT_APP_STREAMS = 256
/** Inbound message or call streams per connection at once. */
const MAX_INBOUND_APP_MESSAGES = 64
/** How long an inbound message may take to arrive, and a message to be sent by default, in ms. */
const MESSAGE_TIMEOUT = 30_000
/** How long the local handler may take to answer an inbound call (reading and writing included), in ms. */
const ANSWER_TIMEOUT = 60_000
/** How long an outbound call may take by default, in ms. */
const DEFAULT_CALL_TIMEOUT = 30_000

/** Whether the node may serve (running) or use the network (started); each throws when not. */
export interface NodeState {
  /** Throws NodeStoppedError on a stopped node. */
  assertRunning: () => void
  /** Throws NodeStoppedError or NodeNotStartedError. */
  assertStarted: () => void
}

/** Components of an {@link AppApi}. */
export interface AppApiInit {
  /** The node's libp2p. */
  libp2p: Libp2p
  /** Where to log. */
  log: Logger
  /** Resolves targets (and makes their addresses known). */
  resolver: Pick<PeerResolver, 'resolve' | 'prepare'>
  /** Peers a dial race runs for. */
  racing: RacingPeers
  /** The node's state, checked before each call. */
  state: NodeState
}

/** App protocols, messages and calls of one node. */
export class AppApi {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly resolver: AppApiInit['resolver']
  private readonly racing: RacingPeers
  private readonly state: NodeState
  private messageHandler: MessageHandler | undefined
  private callHandler: CallHandler | undefined
  private callsServed = false

  constructor (init: AppApiInit) {
    this.libp2p = init.libp2p
    this.log = init.log
    this.resolver = init.resolver
    this.racing = init.racing
    this.state = init.state
  }

  /** Serve an app protocol: each inbound stream as a Duplex, with its authenticated sender. */
  async handle (protocol: string, handler: (stream: Duplex, from: AppSender) => void | Promise<void>, options: HandleOptions = {}): Promise<void> {
    this.state.assertRunning()
    await this.libp2p.handle(protocol, async (stream, connection) => {
      try {
        await handler(streamToDuplex(stream), { peerId: connection.remotePeer, connection })
      } catch (err) {
        this.log.warn({ protocol, peer: connection.remotePeer.toString(), err: (err as Error).message }, 'app stream handler failed')
        if (stream.status === 'open') stream.abort(err as Error)
      }
    }, { runOnLimitedConnection: true, maxInboundStreams: options.maxInboundStreams ?? DEFAULT_APP_STREAMS, maxOutboundStreams: options.maxOutboundStreams ?? DEFAULT_APP_STREAMS })
  }

  /** Stop serving an app protocol. */
  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /** Open a stream of an app protocol to a peer, as a Duplex. */
  async open (target: string | Target, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Duplex> {
    return streamToDuplex(await this.openRaw(target, protocol, options.signal))
  }

  /** Receive one-way app messages (one handler; a new one replaces it). */
  async onMessage (handler: MessageHandler): Promise<void> {
    const first = this.messageHandler == null
    this.messageHandler = handler
    if (!first) return
    await this.libp2p.handle(MESSAGE_PROTOCOL, async (stream, connection) => {
      try {
        const data = await readMessage(stream, AbortSignal.timeout(MESSAGE_TIMEOUT))
        await this.messageHandler?.(data, { peerId: connection.remotePeer, connection })
      } catch (err) {
        this.log.debug({ peer: connection.remotePeer.toString(), err: (err as Error).message }, 'bad app message')
        if (stream.status === 'open') stream.abort(err as Error)
      }
    }, { runOnLimitedConnection: true, maxInboundStreams: MAX_INBOUND_APP_MESSAGES })
  }

  /** Answer app calls (one handler; a new one replaces it). */
  async onCall (handler: CallHandler): Promise<void> {
    this.callHandler = handler
    await this.ensureCallProtocol()
  }

  /** Send a one-way app message. Resolves when the peer has it. */
  async send (target: string | Target, data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkSize(data)
    const stream = await this.openRaw(target, MESSAGE_PROTOCOL, options.signal)
    await writeMessage(stream, data, options.signal ?? AbortSignal.timeout(MESSAGE_TIMEOUT)).catch((err: Error) => {
      if (stream.status === 'open') stream.abort(err)
      throw err
    })
  }

  /** Call a peer: send `request`, get its handler's reply. */
  async call (target: string | Target, request: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<Uint8Array> {
    checkSize(request)
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeout ?? DEFAULT_CALL_TIMEOUT), ...(options.signal != null ? [options.signal] : [])])
    this.state.assertStarted()
    const t = typeof target === 'string' ? await this.resolver.resolve(target, signal) : target
    const stream = await this.openRaw(t, CALL_PROTOCOL, signal)
    try {
      return await writeCall(stream, request, t.peerId.toString(), signal)
    } catch (err) {
      if (stream.status === 'open') stream.abort(err as Error)
      throw err
    }
  }

  private async ensureCallProtocol (): Promise<void> {
    if (this.callsServed) return
    this.callsServed = true
    await this.libp2p.handle(CALL_PROTOCOL, async (stream, connection) => {
      await answerCall(stream, this.callHandler, { peerId: connection.remotePeer, connection }, AbortSignal.timeout(ANSWER_TIMEOUT)).catch((err: Error) => {
        this.log.debug({ peer: connection.remotePeer.toString(), err: err.message }, 'app call failed')
        if (stream.status === 'open') stream.abort(err)
      })
    }, { runOnLimitedConnection: true, maxInboundStreams: MAX_INBOUND_APP_MESSAGES })
  }

  private async openRaw (target: string | Target, protocol: string, signal?: AbortSignal): Promise<Stream> {
    this.state.assertStarted()
    const { target: t } = await this.resolver.prepare(target, signal)
    const s = AbortSignal.any([AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT), ...(signal != null ? [signal] : [])])
    try {
      // not connected yet: beam's own dial race over the known addresses
      // (libp2p's peer dial tries them one at a time, 12 s each); the stream
      // then goes over the connection it opened
      if (this.libp2p.getConnections(t.peerId).length === 0) {
        const known = await knownAddresses(this.libp2p, t.peerId)
        if (known.length > 0) await raceDial(this.libp2p, t.peerId, { addrs: known, log: this.log, signal: s, racing: this.racing })
      }
      return await this.libp2p.dialProtocol(t.peerId, protocol, { signal: s, runOnLimitedConnection: true })
    } catch (err) {
      signal?.throwIfAborted()
      throw new PeerUnreachableError(t.peerId.toString(), (err as Error).message, err)
    }
  }
}
