import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../../../src/peer/libp2p/noise-crypto.ts'

// beam's Noise crypto must be byte-for-byte the library's: same ciphertext,
// same tag, each side able to open what the other sealed, tampering refused.

const flat = (b: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(b instanceof Uint8Array ? b : b.subarray())
const nonceOf = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }
// a list whose chunk boundaries fall anywhere, as TCP reads do
const split = (b: Uint8Array, at: number[]): Uint8ArrayList => {
  const l = new Uint8ArrayList()
  let prev = 0
  for (const i of [...at, b.byteLength]) { l.append(b.subarray(prev, i)); prev = i }
  return l
}

describe('noise crypto', () => {
  for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
    it(`seals and opens like the library's default at ${size} bytes`, () => {
      const k = randomBytes(32)
      const ad = randomBytes(32)
      const pt = randomBytes(size)
      for (let n = 0; n < 3; n++) {
        const ours = flat(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonceOf(n), ad, k))
        const theirs = flat(defaultCrypto.chaCha20Poly1305Encrypt(pt, nonceOf(n), ad, k))
        expect(ours.equals(theirs)).toBe(true)
        expect(ours.byteLength).toBe(size + 16)
        // ours opens theirs, from one buffer and from a list cut anywhere
        expect(flat(noiseCrypto.chaCha20Poly1305Decrypt(Buffer.from(theirs), nonceOf(n), ad, k)).equals(pt)).toBe(true)
        const cuts = [Math.floor(size / 3), size + 8].filter(i => i > 0 && i < size + 16)
        expect(flat(noiseCrypto.chaCha20Poly1305Decrypt(split(Buffer.from(theirs), cuts) as never, nonceOf(n), ad, k)).equals(pt)).toBe(true)
        // theirs opens ours
        expect(flat(defaultCrypto.chaCha20Poly1305Decrypt(Buffer.from(ours), nonceOf(n), ad, k)).equals(pt)).toBe(true)
      }
    })
  }

  it('seals a list of chunks like the same bytes in one buffer', () => {
    const k = randomBytes(32)
    const pt = randomBytes(65519)
    const a = flat(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonceOf(7), new Uint8Array(0), k))
    const b = flat(noiseCrypto.chaCha20Poly1305Encrypt(split(pt, [12, 40000]) as never, nonceOf(7), new Uint8Array(0), k))
    expect(a.equals(b)).toBe(true)
  })

  it('refuses a changed byte, a wrong nonce and a wrong key', () => {
    const k = randomBytes(32)
    const pt = randomBytes(20000)
    const sealed = flat(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonceOf(1), new Uint8Array(0), k))
    const bad = Buffer.from(sealed)
    bad[5000] = (bad[5000] ?? 0) ^ 1
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(bad, nonceOf(1), new Uint8Array(0), k)).toThrow()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonceOf(2), new Uint8Array(0), k)).toThrow()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonceOf(1), new Uint8Array(0), randomBytes(32))).toThrow()
    const badTag = Buffer.from(sealed)
    badTag[badTag.length - 1] = (badTag[badTag.length - 1] ?? 0) ^ 1
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(split(badTag, [100]) as never, nonceOf(1), new Uint8Array(0), k)).toThrow()
  })
})
