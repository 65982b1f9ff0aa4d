/**
 * The guarded record store (src/peer/discovery/record-store.ts): kad-dht
 * stores every record its validator accepts; the guard refuses to put an
 * older record over a newer one. Real Ed25519 keys, no network.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { recordKey, signRecord, validateRecord } from 'beam'
import * as varint from 'uint8-varint'
import { decodeDhtRecord, guardRecordStore } from '../../../../src/peer/discovery/record-store.ts'

const owner = await generateKeyPair('Ed25519')
const key = recordKey(peerIdFromPrivateKey(owner).toString(), 'profile')
const expires = (): number => Date.now() + 60_000
const text = (raw: Uint8Array): string => Buffer.from(raw).toString('utf8')
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

/** A kad-dht Record protobuf: key = 1, value = 2, timeReceived = 5 (as @libp2p/record writes it). */
function dhtRecord (k: Uint8Array, value: Uint8Array): Uint8Array {
  const field = (n: number, b: Uint8Array): Uint8Array[] => [new Uint8Array([n << 3 | 2]), varint.encode(b.byteLength), b]
  return new Uint8Array(Buffer.concat([...field(1, k), ...field(2, value), ...field(5, bytes(new Date().toISOString()))]))
}

/** The two methods of a datastore the guard uses, over a Map. */
function mapStore (): { store: Parameters<typeof guardRecordStore>[0], data: Map<string, Uint8Array> } {
  const data = new Map<string, Uint8Array>()
  const store = {
    get: async (k: { toString: () => string }) => {
      const v = data.get(k.toString())
      if (v == null) throw Object.assign(new Error('not found'), { name: 'NotFoundError' })
      return v
    },
    put: async (k: { toString: () => string }, v: Uint8Array) => { await new Promise(resolve => setTimeout(resolve, 5)); data.set(k.toString(), v); return k }
  }
  return { store: store as unknown as Parameters<typeof guardRecordStore>[0], data }
}

describe('guarded record store (rollback)', () => {
  const dsKey = { toString: () => '/dht/record/abc' } as unknown as Parameters<Parameters<typeof guardRecordStore>[0]['put']>[0]
  const seqOf = async (stored: Uint8Array | undefined): Promise<number> => (await validateRecord(key, decodeDhtRecord(stored ?? new Uint8Array()).value)).seq

  it('refuses an older or equal-seq-other-bytes record over a valid newer one; accepts newer, identical and non-beam records', async () => {
    const { store, data } = mapStore()
    const guarded = guardRecordStore(store)
    const v1 = dhtRecord(key, await signRecord(owner, key, bytes('v1'), 1, expires()))
    const v2 = dhtRecord(key, await signRecord(owner, key, bytes('v2'), 2, expires()))
    const v2b = dhtRecord(key, await signRecord(owner, key, bytes('v2b'), 2, expires()))
    await guarded.put(dsKey, v2)
    await expect(guarded.put(dsKey, v1)).rejects.toThrow(/a newer record is stored \(seq 2\): refusing seq 1/)
    await expect(guarded.put(dsKey, v2b)).rejects.toThrow(/a record with seq 2 and other contents is stored/)
    await expect(guarded.put(dsKey, v2)).resolves.toBe(dsKey)
    expect(await seqOf(data.get('/dht/record/abc'))).toBe(2)
    const v3 = dhtRecord(key, await signRecord(owner, key, bytes('v3'), 3, expires()))
    await guarded.put(dsKey, v3)
    expect(await seqOf(data.get('/dht/record/abc'))).toBe(3)
    // an expired stored record may be replaced by any valid one
    data.set('/dht/record/abc', dhtRecord(key, await signRecord(owner, key, bytes('old'), 9, Date.now() + 1)))
    await new Promise(resolve => setTimeout(resolve, 5))
    await guarded.put(dsKey, v1)
    expect(await seqOf(data.get('/dht/record/abc'))).toBe(1)
    // other keys pass straight through
    const other = { toString: () => '/dht/provider/xyz' } as unknown as typeof dsKey
    await guarded.put(other, bytes('anything'))
    expect(text(data.get('/dht/provider/xyz') ?? new Uint8Array())).toBe('anything')
  })

  it('serialises writes to one key: of two racing puts, the older record cannot land last', async () => {
    const { store, data } = mapStore()
    const guarded = guardRecordStore(store)
    const v1 = dhtRecord(key, await signRecord(owner, key, bytes('v1'), 1, expires()))
    const v2 = dhtRecord(key, await signRecord(owner, key, bytes('v2'), 2, expires()))
    const [a, b] = await Promise.allSettled([guarded.put(dsKey, v2), guarded.put(dsKey, v1)])
    expect(a.status).toBe('fulfilled')
    expect(b.status).toBe('rejected')
    expect(await seqOf(data.get('/dht/record/abc'))).toBe(2)
  })
})
