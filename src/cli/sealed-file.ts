/**
 * A file sealed with a passphrase, for `beam export` / `beam import`: the
 * key is derived with scrypt (N 2^17, r 8, p 1: ~128 MiB and a fraction of a
 * second, so that guessing passphrases is slow) and the content encrypted
 * with AES-256-GCM, whose tag also covers the header (format, version, KDF
 * parameters, nonce). A JSON text file: nothing but those parameters is
 * readable without the passphrase.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'

/** The `format` field of a sealed file. */
export const SEALED_FORMAT = 'beam-sealed'
const SEALED_VERSION = 1
/** scrypt cost for new files. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 }
/** The largest costs a file may ask for (a file is input: it must not make beam spend minutes or gigabytes). */
const MAX_N = 2 ** 20
const MAX_R = 16
const MAX_P = 4
/** Longest sealed file read, in bytes. */
export const MAX_SEALED_FILE = 256 * 1024
/** Shortest passphrase accepted for a new file. */
export const MIN_PASSPHRASE = 8

/** A sealed file that cannot be opened: damaged, not one, or the wrong passphrase. */
export class SealedFileError extends Error {
  /** 'format': not a sealed file or damaged; 'passphrase': wrong passphrase or tampered content. */
  readonly kind: 'format' | 'passphrase'
  constructor (message: string, kind: 'format' | 'passphrase') {
    super(message)
    this.name = 'SealedFileError'
    this.kind = kind
  }
}

interface Header {
  format: string
  version: number
  kdf: { name: 'scrypt', N: number, r: number, p: number, salt: string }
  cipher: { name: 'aes-256-gcm', nonce: string }
}

async function deriveKey (passphrase: string, salt: Buffer, cost: { N: number, r: number, p: number }): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 }, (err, key) => {
      if (err != null) reject(err)
      else resolve(key)
    })
  })
}

/** What the tag authenticates besides the content: every header field, in a fixed order. */
function additionalData (h: Header): Buffer {
  return Buffer.from([h.format, h.version, h.kdf.name, h.kdf.N, h.kdf.r, h.kdf.p, h.kdf.salt, h.cipher.name, h.cipher.nonce].join('\n'))
}

/** Seal `content` with `passphrase`: the text of a sealed file. */
export async function seal (content: Uint8Array, passphrase: string): Promise<string> {
  const salt = randomBytes(16)
  const nonce = randomBytes(12)
  const header: Header = {
    format: SEALED_FORMAT,
    version: SEALED_VERSION,
    kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'aes-256-gcm', nonce: nonce.toString('base64') }
  }
  const key = await deriveKey(passphrase, salt, SCRYPT)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(additionalData(header))
  const data = Buffer.concat([cipher.update(content), cipher.final(), cipher.getAuthTag()])
  return JSON.stringify({ ...header, data: data.toString('base64') }, null, 2) + '\n'
}

function field (o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined
}

function readHeader (text: string): { header: Header, data: Buffer } {
  const bad = (why: string): SealedFileError => new SealedFileError(`not a beam export file, or a damaged one (${why})`, 'format')
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch {
    throw bad('not JSON')
  }
  if (typeof o !== 'object' || o == null || Array.isArray(o)) throw bad('not a JSON object')
  const top = o as Record<string, unknown>
  if (field(top, 'format') !== SEALED_FORMAT) throw bad('no format field')
  if (field(top, 'version') !== SEALED_VERSION) throw bad(`version ${String(field(top, 'version'))}: this beam reads version ${SEALED_VERSION}`)
  const kdf = field(top, 'kdf') as Record<string, unknown> | undefined
  const cipher = field(top, 'cipher') as Record<string, unknown> | undefined
  if (kdf == null || typeof kdf !== 'object' || cipher == null || typeof cipher !== 'object') throw bad('no kdf or cipher')
  const N = field(kdf, 'N')
  const r = field(kdf, 'r')
  const p = field(kdf, 'p')
  const salt = field(kdf, 'salt')
  const nonce = field(cipher, 'nonce')
  const data = field(top, 'data')
  if (field(kdf, 'name') !== 'scrypt' || field(cipher, 'name') !== 'aes-256-gcm') throw bad('unknown kdf or cipher')
  if (typeof N !== 'number' || !Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) throw bad('bad scrypt N')
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > MAX_R) throw bad('bad scrypt r')
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > MAX_P) throw bad('bad scrypt p')
  if (typeof salt !== 'string' || typeof nonce !== 'string' || typeof data !== 'string') throw bad('no salt, nonce or data')
  const saltBytes = Buffer.from(salt, 'base64')
  const nonceBytes = Buffer.from(nonce, 'base64')
  const dataBytes = Buffer.from(data, 'base64')
  if (saltBytes.length < 16 || saltBytes.length > 64 || nonceBytes.length !== 12 || dataBytes.length < 17) throw bad('bad salt, nonce or data length')
  return { header: { format: SEALED_FORMAT, version: SEALED_VERSION, kdf: { name: 'scrypt', N, r, p, salt }, cipher: { name: 'aes-256-gcm', nonce } }, data: dataBytes }
}

/** Open a sealed file's text with `passphrase`. Throws {@link SealedFileError}. */
export async function unseal (text: string, passphrase: string): Promise<Uint8Array> {
  if (text.length > MAX_SEALED_FILE) throw new SealedFileError(`not a beam export file (over ${MAX_SEALED_FILE} bytes)`, 'format')
  const { header, data } = readHeader(text)
  const key = await deriveKey(passphrase, Buffer.from(header.kdf.salt, 'base64'), header.kdf)
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.cipher.nonce, 'base64'))
  decipher.setAAD(additionalData(header))
  decipher.setAuthTag(data.subarray(data.length - 16))
  try {
    return new Uint8Array(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]))
  } catch {
    throw new SealedFileError('wrong passphrase, or the file was changed', 'passphrase')
  }
}
