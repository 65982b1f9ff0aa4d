/**
 * Patch of @chainsafe/libp2p-noise's crypto. Measured on
 * @chainsafe/libp2p-noise 17.0.0 (docs/performance.md, item 1). Retire it when
 * upstream `nodeCrypto.chaCha20Poly1305Encrypt/Decrypt` caches
 * `createSecretKey(k)` per key and returns ciphertext and tag as a list
 * instead of concatenating them.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'

const CIPHER = 'chacha20-poly1305'
const TAG_LENGTH = 16

/**
 * Messages shorter than this go to @chainsafe/libp2p-noise's own (WASM)
 * implementation, which is faster for small payloads; longer ones to Node's
 * OpenSSL. Same threshold as the library's default crypto.
 */
export const NATIVE_THRESHOLD = 1200

// Node turns a raw key into a KeyObject on every createCipheriv call, which
// cost as much as encrypting a 64 KiB message. A Noise CipherState keeps one
// key buffer for the whole session and never writes to it, so the KeyObject
// can be made once per key buffer.
type Encrypt = ICryptoInterface['chaCha20Poly1305Encrypt']
type Decrypt = ICryptoInterface['chaCha20Poly1305Decrypt']
type NoiseList = Exclude<ReturnType<Encrypt>, Uint8Array>

/**
 * The Noise package is built against uint8arraylist 2.x, beam against 3.x. The
 * two are one type at run time (both are recognised by the same
 * `Symbol.for('@achingbrain/uint8arraylist')` brand and keep their chunks in
 * `bufs`), so a 3.x list is handed to Noise as its own list type.
 */
function asNoiseList (list: Uint8ArrayList): NoiseList {
  return list as unknown as NoiseList
}

const keys = new WeakMap<Uint8Array, KeyObject>()

function keyObject (k: Uint8Array): KeyObject {
  let key = keys.get(k)
  if (key == null) {
    key = createSecretKey(k)
    keys.set(k, key)
  }
  return key
}

const encrypt: Encrypt = (plaintext, nonce, ad, k) => {
  if (plaintext.byteLength < NATIVE_THRESHOLD) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  const cipher = createCipheriv(CIPHER, keyObject(k), nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  // no concatenation: the ciphertext pieces and the tag go out as a list
  const out = new Uint8ArrayList()
  if (plaintext instanceof Uint8Array) out.append(cipher.update(plaintext))
  else for (const buf of plaintext) out.append(cipher.update(buf))
  const final = cipher.final()
  if (final.byteLength > 0) out.append(final)
  out.append(cipher.getAuthTag())
  return asNoiseList(out)
}

const decrypt: Decrypt = (ciphertext, nonce, ad, k, dst) => {
  if (ciphertext.byteLength < NATIVE_THRESHOLD) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const textLength = ciphertext.byteLength - TAG_LENGTH
  const decipher = createDecipheriv(CIPHER, keyObject(k), nonce, { authTagLength: TAG_LENGTH })
  decipher.setAAD(ad, { plaintextLength: textLength })
  if (ciphertext instanceof Uint8Array) {
    decipher.setAuthTag(ciphertext.subarray(textLength))
    const text = decipher.update(ciphertext.subarray(0, textLength))
    decipher.final() // throws when the tag does not match
    return text
  }
  decipher.setAuthTag(ciphertext.sublist(textLength).subarray())
  const out = new Uint8ArrayList()
  for (const buf of ciphertext.sublist(0, textLength)) out.append(decipher.update(buf))
  decipher.final()
  return asNoiseList(out)
}

/**
 * The crypto beam gives Noise: the library's default (X25519, SHA-256, HKDF,
 * and ChaCha20-Poly1305 through Node's OpenSSL for large messages), with the
 * per-message costs removed from the bulk path: the cipher key is imported
 * once per session instead of once per message, and the ciphertext is not
 * copied into one buffer with its tag. Same cipher, same wire format.
 */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt
}
