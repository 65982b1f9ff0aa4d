import { setTimeout as sleep } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

/**
 * Signed records in the DHT: small values a node publishes under its own peer
 * id (`/beam-rec/<peer id>/<name>`), that only it can write, with sequence
 * numbers and an expiry. DHT servers that run beam (relays) check every
 * record with {@link validateRecord} before storing it and pick the newest
 * with {@link selectRecord}; readers check again. See docs/embedding.md.
 *
 * Wire form of a value (UTF-8 JSON): {"v":1,"seq":N,"expires":MS,"value":B64,"sig":B64},
 * `sig` an Ed25519 signature by the peer id's key over
 * "beam-record-v1\n<key>\n<seq>\n<expires>\n" followed by the value bytes.
 * The form is canonical: exactly these five fields in this order, no
 * whitespace, integers in plain decimal, `value` and `sig` in padded standard
 * base64 (RFC 4648 section 4) as {@link signRecord} writes them. Readers and
 * servers refuse any other spelling of a record, so one record has one
 * encoding, and at most {@link MAX_RECORD_BYTES} of it.
 */

/** The DHT key namespace of beam records (kad-dht picks validators by it). */
export const RECORD_NAMESPACE = 'beam-rec'
/** Largest record value, in bytes. */
export const MAX_RECORD_VALUE = 8 * 1024
/**
 * Largest encoded record (the bytes a DHT server stores), checked before it
 * is parsed: a value of {@link MAX_RECORD_VALUE} bytes takes 10,924 bytes of
 * base64, an Ed25519 signature and the other fields at most 170 more; the
 * rest is headroom (a secp256k1 signature is a few bytes longer).
 */
export const MAX_RECORD_BYTES = 12 * 1024
/** Longest lifetime a record may claim, in ms (7 days). */
export const MAX_RECORD_TTL = 7 * 24 * 3600_000
/** Record names: 1-64 of a-z, 0-9, '.', '_', '-'. */
export const RECORD_NAME_RE = /^[a-z0-9._-]{1,64}$/

/** A record name, value or ttl that beam does not accept, or a record that fails validation. */
export class RecordError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RecordError'
  }
}

/** No valid record of that name and peer was found in the DHT. */
export class RecordNotFoundError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RecordNotFoundError'
  }
}

/** A record as read from the DHT, signature checked. */
export interface BeamRecord {
  /** Whose record (the only key that can sign it). */
  peerId: string
  /** Its name under that peer id. */
  name: string
  /** The bytes stored (at most {@link MAX_RECORD_VALUE}). */
  value: Uint8Array
  /** Higher wins; beam uses the time of writing in ms (strictly increasing per writer). */
  seq: number
  /** When it stops being valid, ms since the epoch. */
  expires: number
}

interface WireRecord { v: 1, seq: number, expires: number, value: string, sig: string }
/** The fields of a record, in the order the encoder writes them. */
const WIRE_FIELDS = ['v', 'seq', 'expires', 'value', 'sig'] as const

const enc = new TextEncoder()
const dec = new TextDecoder()

/** The DHT key of a record: `/beam-rec/<peer id>/<name>`, UTF-8. */
export function recordKey (peerId: string, name: string): Uint8Array {
  return enc.encode(`/${RECORD_NAMESPACE}/${peerId}/${name}`)
}

function signedBytes (key: Uint8Array, seq: number, expires: number, value: Uint8Array): Uint8Array {
  const head = enc.encode(`beam-record-v1\n${dec.decode(key)}\n${seq}\n${expires}\n`)
  const out = new Uint8Array(head.byteLength + value.byteLength)
  out.set(head, 0)
  out.set(value, head.byteLength)
  return out
}

function parseKey (key: Uint8Array): { peerId: PeerId, name: string } {
  const parts = dec.decode(key).split('/')
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== RECORD_NAMESPACE) throw new RecordError('record key is not /beam-rec/<peer id>/<name>')
  const name = parts[3] ?? ''
  if (!RECORD_NAME_RE.test(name)) throw new RecordError(`bad record name '${name}'`)
  let peerId: PeerId
  try {
    peerId = peerIdFromString(parts[2] ?? '')
  } catch {
    throw new RecordError('record key does not name a valid peer id')
  }
  return { peerId, name }
}

/** The one encoding of a record (what {@link parseWire} accepts). */
function encodeWire (seq: number, expires: number, value: Uint8Array, sig: Uint8Array): Uint8Array {
  const wire: WireRecord = { v: 1, seq, expires, value: Buffer.from(value).toString('base64'), sig: Buffer.from(sig).toString('base64') }
  return enc.encode(JSON.stringify(wire))
}

/** Encode and sign a record value for `key`. */
export async function signRecord (privateKey: PrivateKey, key: Uint8Array, value: Uint8Array, seq: number, expires: number): Promise<Uint8Array> {
  const sig = await privateKey.sign(signedBytes(key, seq, expires, value))
  return encodeWire(seq, expires, value, sig)
}

/** Decode base64 that must be in the canonical form (padded, standard alphabet, no whitespace). */
function canonicalBase64 (text: string, field: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) throw new RecordError(`record ${field} is not canonical base64 (padded, standard alphabet, no whitespace)`)
  return new Uint8Array(bytes)
}

/**
 * Parse the wire form strictly: size first, then JSON, then exactly the
 * known fields with their types, canonical base64, and finally the bytes
 * must be what {@link encodeWire} makes of the fields (no whitespace,
 * escapes, other field order or number spelling). Throws RecordError.
 */
function parseWire (raw: Uint8Array): { seq: number, expires: number, value: Uint8Array, sig: Uint8Array } {
  if (raw.byteLength > MAX_RECORD_BYTES) throw new RecordError(`record of ${raw.byteLength} bytes exceeds ${MAX_RECORD_BYTES}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(dec.decode(raw))
  } catch {
    throw new RecordError('record value is not JSON')
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RecordError('record value is not a beam record')
  const fields = Object.keys(parsed)
  const unknown = fields.find(f => !(WIRE_FIELDS as readonly string[]).includes(f))
  if (unknown != null) throw new RecordError(`record has an unknown field '${unknown.slice(0, 32)}'`)
  const wire = parsed as Partial<Record<string, unknown>>
  if (wire.v !== 1 || !Number.isSafeInteger(wire.seq) || (wire.seq as number) < 0 || !Number.isSafeInteger(wire.expires) || typeof wire.value !== 'string' || typeof wire.sig !== 'string') {
    throw new RecordError('record value is not a beam record')
  }
  const seq = wire.seq as number
  const expires = wire.expires as number
  const value = canonicalBase64(wire.value, 'value')
  if (value.byteLength > MAX_RECORD_VALUE) throw new RecordError(`record value of ${value.byteLength} bytes exceeds ${MAX_RECORD_VALUE}`)
  const sig = canonicalBase64(wire.sig, 'signature')
  if (!Buffer.from(encodeWire(seq, expires, value, sig)).equals(raw)) throw new RecordError('record is not in canonical form (field order, whitespace, escapes or number spelling)')
  return { seq, expires, value, sig }
}

/**
 * Check a record: well-formed key, encoded size at most
 * {@link MAX_RECORD_BYTES}, the canonical encoding with no unknown field,
 * value size, not expired, not too far in the future, signed by the key of
 * the peer id in the key. Throws RecordError; returns the decoded record.
 */
export async function validateRecord (key: Uint8Array, raw: Uint8Array, now: number = Date.now()): Promise<BeamRecord> {
  const { peerId, name } = parseKey(key)
  const wire = parseWire(raw)
  if (wire.expires <= now) throw new RecordError('record expired')
  if (wire.expires > now + MAX_RECORD_TTL + 60_000) throw new RecordError('record claims a lifetime beyond 7 days')
  const publicKey = peerId.publicKey
  if (publicKey == null) throw new RecordError('peer id carries no public key (only Ed25519/secp256k1 ids can own records)')
  const ok = await publicKey.verify(signedBytes(key, wire.seq, wire.expires, wire.value), wire.sig)
  if (!ok) throw new RecordError('record signature does not match the peer id in its key')
  return { peerId: peerId.toString(), name, value: wire.value, seq: wire.seq, expires: wire.expires }
}

/** kad-dht validator for the beam-rec namespace. */
export async function validateForDht (key: Uint8Array, value: Uint8Array): Promise<void> {
  await validateRecord(key, value)
}

/** kad-dht selector: the valid record with the highest seq (0 if none is valid). */
export async function selectRecord (key: Uint8Array, records: Uint8Array[]): Promise<number> {
  let best = 0
  let bestSeq = -1
  for (let i = 0; i < records.length; i++) {
    try {
      const r = await validateRecord(key, records[i] ?? new Uint8Array())
      if (r.seq > bestSeq) { best = i; bestSeq = r.seq }
    } catch {}
  }
  return best
}

/** Options of {@link Records.put}. */
export interface PutOptions {
  /** Lifetime in ms. @default 3600000 (1 hour); at most 7 days */
  ttl?: number
  /** Aborts the DHT write. @default a 30 s timeout */
  signal?: AbortSignal
}

/** Options of {@link Records.get}. */
export interface GetOptions {
  /** Aborts the DHT query. @default a 30 s timeout */
  signal?: AbortSignal
}

/** Options of {@link Records.watch}. */
export interface WatchOptions {
  /** Ends the iteration (without an error) when it aborts. @default unset (runs until the loop breaks) */
  signal?: AbortSignal
  /** Time between two DHT queries, in ms; at least {@link MIN_WATCH_INTERVAL}. @default 10000 */
  interval?: number
  /** Yield only records with a higher seq than this (e.g. the seq of the copy you have). @default 0 (the first record found is yielded) */
  since?: number
  /** How long one DHT query may take, in ms. @default 30000 */
  queryTimeout?: number
}

/** The shortest polling interval {@link Records.watch} accepts, in ms. */
export const MIN_WATCH_INTERVAL = 100
/** The default polling interval of {@link Records.watch}, in ms. */
export const DEFAULT_WATCH_INTERVAL = 10_000

type Dht = Pick<Libp2p, 'contentRouting'>

/** `node.records`: put your own records, get anyone's. */
export class Records {
  private readonly libp2p: Dht
  private readonly privateKey: PrivateKey
  private readonly self: string
  private lastSeq = 0

  /** @internal made by the node: {@link BeamNode.records} */
  constructor (libp2p: Dht, privateKey: PrivateKey, self: string) {
    this.libp2p = libp2p
    this.privateKey = privateKey
    this.self = self
  }

  /** Publish (or replace) this node's record `name`. Returns its seq and expiry. */
  async put (name: string, value: Uint8Array, options: PutOptions = {}): Promise<{
    /** The record's sequence number. */
    seq: number
    /** When it expires, ms since the epoch. */
    expires: number
  }> {
    if (!RECORD_NAME_RE.test(name)) throw new RecordError(`bad record name '${name}': 1-64 of a-z, 0-9, '.', '_', '-'`)
    if (value.byteLength > MAX_RECORD_VALUE) throw new RecordError(`record value of ${value.byteLength} bytes exceeds ${MAX_RECORD_VALUE}`)
    const ttl = options.ttl ?? 3600_000
    if (!Number.isInteger(ttl) || ttl < 1000 || ttl > MAX_RECORD_TTL) throw new RecordError('ttl must be from 1 s to 7 days, in ms')
    const seq = Math.max(Date.now(), this.lastSeq + 1)
    this.lastSeq = seq
    const expires = Date.now() + ttl
    const key = recordKey(this.self, name)
    const raw = await signRecord(this.privateKey, key, value, seq, expires)
    await this.libp2p.contentRouting.put(key, raw, { signal: options.signal ?? AbortSignal.timeout(30_000) })
    return { seq, expires }
  }

  /** The newest valid record `name` of `peerId`. Throws RecordNotFoundError. */
  async get (peerId: PeerId | string, name: string, options: GetOptions = {}): Promise<BeamRecord> {
    const key = recordKey(peerId.toString(), name)
    let raw: Uint8Array
    try {
      raw = await this.libp2p.contentRouting.get(key, { signal: options.signal ?? AbortSignal.timeout(30_000) })
    } catch (err) {
      options.signal?.throwIfAborted()
      throw new RecordNotFoundError(`no record '${name}' of ${peerId.toString()} in the DHT (${(err as Error).message})`)
    }
    try {
      return await validateRecord(key, raw)
    } catch (err) {
      throw new RecordNotFoundError(`record '${name}' of ${peerId.toString()} is not valid: ${(err as Error).message}`)
    }
  }

  /**
   * Follow a record: yields it each time a newer version (higher seq) is
   * found. This **polls** the DHT every `interval` ms (the Kademlia DHT has
   * no change notifications), so an update shows up up to one interval plus
   * one query late, and versions replaced within one interval are never
   * seen. A missing record or a failed query is not an error: polling goes
   * on. The iteration ends when `signal` aborts or the loop breaks.
   *
   * @example
   * ```ts
   * for await (const rec of node.records.watch(peerId, 'profile', { interval: 5000, signal })) {
   *   console.log(rec.seq, new TextDecoder().decode(rec.value))
   * }
   * ```
   */
  async * watch (peerId: PeerId | string, name: string, options: WatchOptions = {}): AsyncGenerator<BeamRecord, void, undefined> {
    if (!RECORD_NAME_RE.test(name)) throw new RecordError(`bad record name '${name}': 1-64 of a-z, 0-9, '.', '_', '-'`)
    const interval = options.interval ?? DEFAULT_WATCH_INTERVAL
    if (!Number.isFinite(interval) || interval < MIN_WATCH_INTERVAL) throw new RecordError(`watch interval must be at least ${MIN_WATCH_INTERVAL} ms`)
    const queryTimeout = options.queryTimeout ?? 30_000
    const signal = options.signal
    const aborted = (): boolean => signal?.aborted === true
    let last = options.since ?? 0
    while (!aborted()) {
      const querySignal = AbortSignal.any([AbortSignal.timeout(queryTimeout), ...(signal != null ? [signal] : [])])
      try {
        const rec = await this.get(peerId, name, { signal: querySignal })
        if (rec.seq > last) {
          last = rec.seq
          yield rec
        }
      } catch (err) {
        if (aborted()) return
        // not found, not valid, or a query that timed out: try again later
        if (!(err instanceof RecordNotFoundError) && (err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError') throw err
      }
      // cut short by an abort (the loop then ends)
      await sleep(interval, undefined, { signal }).catch(() => {})
    }
  }
}

