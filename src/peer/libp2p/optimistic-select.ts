/**
 * Patch of libp2p's stream negotiation (multistream-select). Measured on
 * libp2p 3.3.11 with @libp2p/multistream-select 7.0.28 (docs/performance.md,
 * items 6 and 7). Retire it when libp2p implements the `negotiateFully: false`
 * (optimistic select) it documents.
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import type { Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { tapMuxers } from './muxer-tap.ts'

/** multistream-select's own protocol id, the first line of every negotiation. */
const MULTISTREAM = '/multistream/1.0.0'
/** Longest protocol line multistream-select accepts (its MAX_PROTOCOL_LENGTH). */
const MAX_LINE = 1024
/** Bytes of the varint length of a line of up to MAX_LINE + 1 bytes. */
const MAX_LENGTH_BYTES = 2
/** readMessage: not all of the next message has arrived yet. */
const INCOMPLETE = Symbol('incomplete')
/** readMessage: the bytes are not a multistream-select message. */
const INVALID = Symbol('invalid')

/**
 * Outbound streams for the given protocols skip multistream-select's round
 * trip: the muxer sends the negotiation (`/multistream/1.0.0`, then the
 * protocol) and marks the stream as negotiated at once, so libp2p hands it to
 * the caller, who can write right away; the listener's answer is checked when
 * it arrives and stripped before the caller reads anything.
 *
 * Why: libp2p 3.3 negotiates every new stream fully (it documents
 * `negotiateFully: false`, an optimistic select, but does not implement it):
 * one round trip before the first byte of every tunnel connection. A beam
 * connector knows the share speaks the tunnel protocol (and finds out within
 * one round trip when it does not), so for that protocol the round trip is
 * pure waiting. With early data (the client's first bytes ride behind the
 * tunnel request) a new tunnel connection now costs one round trip less: two
 * instead of three before the service's answer reaches the client.
 *
 * The listener side is stock multistream-select: it reads the two lines,
 * answers each, and passes what follows to its handler, as it does for any
 * dialer that writes before it reads. When the listener does not know the
 * protocol it answers `na`; the stream is then aborted with an
 * UnsupportedProtocolError, the error libp2p's own select gives, so the
 * caller sees the same failure one step later (on its first read or write
 * rather than from `newStream`). What the caller wrote behind the
 * negotiation is then read by the listener as a further protocol proposal,
 * which it refuses: nothing reaches a handler.
 *
 * Only streams made through the muxer's `createStream` with a single
 * protocol (`protocol` in its options, as libp2p passes it) are changed, and
 * only for the listed protocols; libp2p's own protocols negotiate as usual.
 */
export function optimisticSelect (make: () => StreamMuxerFactory, protocols: readonly string[]): () => StreamMuxerFactory {
  const optimistic = new Set(protocols)
  return tapMuxers(make, (muxer) => { negotiateEarly(muxer, optimistic) })
}

type CreateStream = StreamMuxer['createStream']

/** Makes `muxer` negotiate outbound streams for `protocols` optimistically; false when it has no createStream. */
export function negotiateEarly (muxer: StreamMuxer, protocols: ReadonlySet<string>): boolean {
  if (typeof muxer.createStream !== 'function') return false
  const createStream: CreateStream = muxer.createStream.bind(muxer)
  muxer.createStream = async (options) => {
    const stream = await createStream(options)
    const protocol = options?.protocol
    if (protocol != null && protocols.has(protocol) && stream.protocol === '') selectOptimistically(stream, protocol)
    return stream
  }
  return true
}

/** One multistream-select message: uvarint length, then the line. */
function message (line: string): Uint8ArrayList {
  const body = Buffer.from(`${line}\n`)
  return new Uint8ArrayList(varint.encode(body.byteLength), body)
}

/**
 * Sends the negotiation for `protocol` on a fresh outbound stream, marks the
 * stream negotiated, and checks and strips the listener's two answers from
 * the front of what the stream receives.
 */
export function selectOptimistically (stream: Stream, protocol: string): void {
  const expected = [MULTISTREAM, protocol]
  stream.send(new Uint8ArrayList(message(MULTISTREAM), message(protocol)))
  stream.protocol = protocol
  const shape = stream as unknown as { onData: (data: Uint8Array | Uint8ArrayList) => void }
  const deliver = shape.onData.bind(stream)
  const pending = new Uint8ArrayList()
  shape.onData = (data) => {
    pending.append(data)
    for (;;) {
      const next = readMessage(pending)
      if (next === INCOMPLETE) return
      if (next === INVALID) {
        fail(stream, shape, deliver, `invalid multistream-select answer while opening ${protocol}`)
        return
      }
      const want = expected.shift()
      if (next !== want) {
        fail(stream, shape, deliver, next === 'na' ? `the peer does not support ${protocol}` : `unexpected multistream-select answer "${next}" while opening ${protocol}`)
        return
      }
      if (expected.length === 0) {
        // negotiated: the stream reads as usual from here, starting with what came behind the answers
        shape.onData = deliver
        if (pending.byteLength > 0) deliver(pending)
        return
      }
    }
  }
}

function fail (stream: Stream, shape: { onData: (data: Uint8Array | Uint8ArrayList) => void }, deliver: (data: Uint8Array | Uint8ArrayList) => void, reason: string): void {
  shape.onData = deliver
  stream.abort(new UnsupportedProtocolError(reason))
}

/** The next line at the front of `buf` (consumed), or why there is none. */
function readMessage (buf: Uint8ArrayList): string | typeof INCOMPLETE | typeof INVALID {
  let length: number
  try {
    length = varint.decode(buf)
  } catch {
    // a varint cut short by the end of what has arrived, or garbage
    return buf.byteLength < MAX_LENGTH_BYTES ? INCOMPLETE : INVALID
  }
  if (length < 1 || length > MAX_LINE + 1) return INVALID
  const prefix = varint.encodingLength(length)
  if (buf.byteLength < prefix + length) return INCOMPLETE
  const line = Buffer.from(buf.subarray(prefix, prefix + length))
  buf.consume(prefix + length)
  if (line[line.byteLength - 1] !== 0x0a) return INVALID
  return line.subarray(0, line.byteLength - 1).toString('utf8')
}
