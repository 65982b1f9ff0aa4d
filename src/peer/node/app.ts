import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/**
 * App messages and calls (Veilid-style `app_message` / `app_call`): small
 * byte payloads between nodes, each on its own short stream, authenticated by
 * the connection (the sender is the peer that the Noise handshake proved).
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
