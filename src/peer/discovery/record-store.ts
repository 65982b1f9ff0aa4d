import * as varint from 'uint8-varint'
import { RECORD_NAMESPACE, RecordError, validateRecord } from './records.ts'
import type { KadDHTComponents } from '@libp2p/kad-dht'

/**
 * Rollback protection for beam's signed records in the DHT's local store.
 *
 * kad-dht 16.4 (rpc/handlers/put-value.ts) stores every PUT_VALUE that its
 * validator accepts, replacing what it held: selectors run only when a
 * reader compares answers. So anyone who kept an old, validly signed record
 * (seq 1) could put it back over the owner's newer one (seq 2), on every
 * server, and readers would get seq 1. beam's validator sees one record at a
 * time and cannot compare; this wrapper around the datastore kad-dht writes
 * to can: it refuses to replace a stored beam record that is still valid by
 * one with a lower seq (or with the same seq and other bytes). It covers
 * incoming PUT_VALUE, a node's own puts and kad-dht's read corrections, all
 * of which go through `datastore.put`. Writes to one key are serialised, so
 * two PUTs racing cannot both pass the comparison.
 *
 * Retire it when kad-dht applies selectors on PUT_VALUE.
 */

type Datastore = KadDHTComponents['datastore']
type DatastoreKey = Parameters<Datastore['put']>[0]

/** Where kad-dht keeps records: `${datastorePrefix}/record/…` (beam sets the prefix). */
export const DHT_DATASTORE_PREFIX = '/dht'
const RECORD_PREFIX = `${DHT_DATASTORE_PREFIX}/record/`
const NAMESPACE_PREFIX = new TextEncoder().encode(`/${RECORD_NAMESPACE}/`)
/** A stored kad-dht record is a beam record plus its key and a timestamp. */
const MAX_STORED_BYTES = 64 * 1024

/**
 * The key and value fields of a serialised kad-dht Record protobuf
 * (`bytes key = 1; bytes value = 2; string timeReceived = 5`). Throws on
 * anything else: such bytes are not a record this wrapper must judge.
 */
export function decodeDhtRecord (buf: Uint8Array): { key: Uint8Array, value: Uint8Array } {
  if (buf.byteLength > MAX_STORED_BYTES) throw new RecordError('stored DHT record too large')
  let key: Uint8Array | undefined
  let value: Uint8Array | undefined
  let i = 0
  while (i < buf.byteLength) {
    const tag = varint.decode(buf, i)
    i += varint.encodingLength(tag)
    const field = tag >>> 3
    const wireType = tag & 7
    if (wireType !== 2) throw new RecordError(`unexpected wire type ${wireType} in a DHT record`)
    const len = varint.decode(buf, i)
    i += varint.encodingLength(len)
    if (i + len > buf.byteLength) throw new RecordError('truncated DHT record')
    const bytes = buf.subarray(i, i + len)
    i += len
    if (field === 1) key = bytes
    else if (field === 2) value = bytes
  }
  if (key == null || value == null) throw new RecordError('DHT record without key or value')
  return { key, value }
}

const startsWith = (a: Uint8Array, prefix: Uint8Array): boolean => a.byteLength >= prefix.byteLength && prefix.every((b, i) => a[i] === b)
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

/**
 * Throws RecordError when `incoming` (a serialised kad-dht Record) would
 * replace the beam record in `stored` by an older one. Anything that is not
 * a beam record, and a stored record that is no longer valid (expired), may
 * be replaced.
 */
export async function checkReplacement (stored: Uint8Array | undefined, incoming: Uint8Array, now: number = Date.now()): Promise<void> {
  if (stored == null) return
  let next: { key: Uint8Array, value: Uint8Array }
  let prev: { key: Uint8Array, value: Uint8Array }
  try {
    next = decodeDhtRecord(incoming)
    prev = decodeDhtRecord(stored)
  } catch {
    return
  }
  if (!startsWith(next.key, NAMESPACE_PREFIX)) return
  if (sameBytes(next.value, prev.value)) return
  let kept
  try {
    kept = await validateRecord(prev.key, prev.value, now)
  } catch {
    return
  }
  let seq = -1
  try {
    seq = (await validateRecord(next.key, next.value, now)).seq
  } catch {}
  if (seq < kept.seq) throw new RecordError(`a newer record is stored (seq ${kept.seq}): refusing seq ${seq < 0 ? 'of an invalid record' : seq}`)
  if (seq === kept.seq) throw new RecordError(`a record with seq ${seq} and other contents is stored: keeping it`)
}

/**
 * `datastore` with a `put` that refuses beam-record rollbacks (see above);
 * every other method and key goes straight through.
 */
export function guardRecordStore (datastore: Datastore): Datastore {
  const queues = new Map<string, Promise<unknown>>()
  const guardedPut = async (key: DatastoreKey, val: Uint8Array, options?: Parameters<Datastore['put']>[2]): Promise<DatastoreKey> => {
    const name = key.toString()
    if (!name.startsWith(RECORD_PREFIX)) return await datastore.put(key, val, options)
    const previous = queues.get(name) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(async () => {
      let stored: Uint8Array | undefined
      try {
        stored = await datastore.get(key, options)
      } catch {}
      await checkReplacement(stored, val)
      return await datastore.put(key, val, options)
    })
    queues.set(name, run)
    try {
      return await run
    } finally {
      if (queues.get(name) === run) queues.delete(name)
    }
  }
  return new Proxy(datastore, {
    get (target, prop, receiver) {
      if (prop === 'put') return guardedPut
      const v: unknown = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v
    }
  })
}

/**
 * kad-dht's components with {@link guardRecordStore} around the datastore
 * (libp2p's components object is a Proxy itself: wrap, do not copy).
 */
export function withGuardedRecordStore<C extends { datastore: Datastore }> (components: C): C {
  let guarded: Datastore | undefined
  return new Proxy(components, {
    get (target, prop, receiver) {
      if (prop === 'datastore') {
        guarded ??= guardRecordStore(target.datastore)
        return guarded
      }
      return Reflect.get(target, prop, receiver)
    }
  })
}
