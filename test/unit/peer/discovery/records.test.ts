/**
 * The signed-record codec (src/peer/discovery/records.ts): one record has one
 * encoding. Size is capped on the raw bytes, unknown fields, non-canonical
 * base64 and any other spelling of the JSON are refused, and the kad-dht
 * selector keeps the highest seq (the guarded record store:
 * record-store.test.ts). Real Ed25519 keys, no network.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_RECORD_BYTES, MAX_RECORD_VALUE, RecordError, recordKey, signRecord, validateRecord } from 'beam'
import { selectRecord } from '../../../../src/peer/discovery/records.ts'

const owner = await generateKeyPair('Ed25519')
const key = recordKey(peerIdFromPrivateKey(owner).toString(), 'profile')
const expires = (): number => Date.now() + 60_000
const text = (raw: Uint8Array): string => Buffer.from(raw).toString('utf8')
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

/** The record's JSON with one field's text replaced (the signature still matches the decoded fields). */
function respell (raw: Uint8Array, field: 'value' | 'sig', to: (b64: string) => string): Uint8Array {
  const wire = JSON.parse(text(raw)) as Record<string, unknown>
  return bytes(text(raw).replace(`"${field}":"${String(wire[field])}"`, `"${field}":"${to(String(wire[field]))}"`))
}

async function rejects (raw: Uint8Array, message: RegExp): Promise<void> {
  const err = await validateRecord(key, raw).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(RecordError)
  expect((err as Error).name).toBe('RecordError')
  expect((err as Error).message).toMatch(message)
}

describe('record encoding', () => {
  it('accepts what signRecord writes, and the decoded fields are the signed ones', async () => {
    const exp = expires()
    const raw = await signRecord(owner, key, bytes('hello?>'), 7, exp)
    expect(text(raw)).toMatch(/^\{"v":1,"seq":7,"expires":\d+,"value":"[A-Za-z0-9+/]+=*","sig":"[A-Za-z0-9+/]+=*"\}$/)
    const rec = await validateRecord(key, raw)
    expect({ seq: rec.seq, expires: rec.expires, value: text(rec.value) }).toEqual({ seq: 7, expires: exp, value: 'hello?>' })
  })

  it('caps the raw record at MAX_RECORD_BYTES before parsing it; the largest value fits', async () => {
    const largest = await signRecord(owner, key, new Uint8Array(MAX_RECORD_VALUE).fill(0xff), 1, expires())
    expect(largest.byteLength).toBeLessThanOrEqual(MAX_RECORD_BYTES)
    expect((await validateRecord(key, largest)).value.byteLength).toBe(MAX_RECORD_VALUE)
    // padding after the JSON: the value is small, the stored bytes are not
    const small = text(await signRecord(owner, key, bytes('x'), 1, expires()))
    await rejects(bytes(small + ' '.repeat(MAX_RECORD_BYTES)), new RegExp(`record of ${small.length + MAX_RECORD_BYTES} bytes exceeds ${MAX_RECORD_BYTES}`))
  })

  it('refuses unknown fields, also when the signature is valid', async () => {
    const raw = text(await signRecord(owner, key, bytes('x'), 1, expires()))
    await rejects(bytes(raw.replace('{"v":1,', '{"v":1,"note":"hi",')), /unknown field 'note'/)
    await rejects(bytes(raw.replace(/\}$/, ',"__proto__":{}}')), /unknown field '__proto__'/)
  })

  it('refuses non-canonical base64: missing padding, whitespace, base64url, non-zero padding bits', async () => {
    // 'x' encodes as eA== ; 'hello?>' as aGVsbG8/Pg== (a '/' that base64url writes as '_')
    const one = await signRecord(owner, key, bytes('x'), 1, expires())
    expect(JSON.parse(text(one)).value).toBe('eA==')
    await rejects(respell(one, 'value', () => 'eA'), /value is not canonical base64/)
    await rejects(respell(one, 'value', () => 'eA=='.replace('A', 'B')), /value is not canonical base64/)
    await rejects(respell(one, 'value', () => 'e A=='), /value is not canonical base64/)
    await rejects(respell(one, 'value', () => 'eA==\\n'), /value is not canonical base64/)
    const slash = await signRecord(owner, key, bytes('hello?>'), 1, expires())
    expect(JSON.parse(text(slash)).value).toBe('aGVsbG8/Pg==')
    await rejects(respell(slash, 'value', () => 'aGVsbG8_Pg=='), /value is not canonical base64/)
    await rejects(respell(slash, 'value', () => 'aGVsbG8_Pg'), /value is not canonical base64/)
    await rejects(respell(slash, 'sig', s => s.replace(/=+$/, '')), /signature is not canonical base64/)
    await rejects(respell(slash, 'sig', s => ` ${s}`), /signature is not canonical base64/)
  })

  it('refuses other spellings of the same JSON: whitespace, field order, escapes, number forms, duplicate fields', async () => {
    const raw = text(await signRecord(owner, key, bytes('x'), 100, expires()))
    const wire = JSON.parse(raw) as { v: number, seq: number, expires: number, value: string, sig: string }
    // each of these parses to the very fields that were signed
    const variants = [
      raw.replace('"seq":', '"seq": '),
      `${raw}\n`,
      JSON.stringify({ seq: wire.seq, v: 1, expires: wire.expires, value: wire.value, sig: wire.sig }),
      raw.replace('"seq":100', '"seq":1e2'),
      raw.replace('"seq":100', '"seq":100.0'),
      raw.replace('"value":"eA=="', '"value":"\\u0065A=="'),
      raw.replace('{"v":1,', '{"v":1,"v":1,')
    ]
    for (const v of variants) {
      const parsed = JSON.parse(v) as typeof wire
      expect([parsed.seq, parsed.value]).toEqual([100, 'eA=='])
      await rejects(bytes(v), /not in canonical form/)
    }
    await rejects(bytes(raw.replace('"v":1', '"v":2')), /not a beam record/)
    await rejects(bytes('[1]'), /not a beam record/)
  })

  it('the selector picks the valid record with the highest seq; invalid ones never win', async () => {
    const old = await signRecord(owner, key, bytes('old'), 1, expires())
    const cur = await signRecord(owner, key, bytes('new'), 2, expires())
    const bad = bytes(text(await signRecord(owner, key, bytes('bad'), 3, expires())).replace('"seq":3', '"seq": 3'))
    expect(await selectRecord(key, [old, cur, bad])).toBe(1)
    expect(await selectRecord(key, [cur, old])).toBe(0)
  })
})
