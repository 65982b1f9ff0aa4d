/**
 * The bytes the benchmark moves: a fixed 1 MiB pseudo-random block repeated,
 * and the bulk protocol of the benchmark service (one header, then data).
 */
import { createHash } from 'node:crypto'

export const BLOCK_SIZE = 1024 * 1024

/** The repeated 1 MiB block (xorshift32, fixed seed: the same in every process). */
export const BLOCK: Buffer = (() => {
  const out = Buffer.allocUnsafe(BLOCK_SIZE)
  let x = 0x9e3779b9
  for (let o = 0; o < BLOCK_SIZE; o += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out.writeUInt32LE(x, o)
  }
  return out
})()

/** SHA-256 (hex) of the first `size` bytes of the repeated block. */
export function patternHash (size: number): string {
  const h = createHash('sha256')
  let left = size
  while (left > 0) {
    const n = Math.min(left, BLOCK_SIZE)
    h.update(n === BLOCK_SIZE ? BLOCK : BLOCK.subarray(0, n))
    left -= n
  }
  return h.digest('hex')
}

/**
 * Bulk request header, 16 bytes: `op u8 ('U' upload | 'D' download) | verify u8 | 6 zero bytes | size u64be`.
 * Upload: the client sends `size` bytes; the service answers one byte (or, with
 * verify, the 32-byte SHA-256 of what it got) and closes. Download: the
 * service sends `size` bytes of the pattern and closes.
 */
export const HEADER_SIZE = 16

export function encodeHeader (op: 'U' | 'D', size: number, verify: boolean): Buffer {
  const b = Buffer.alloc(HEADER_SIZE)
  b[0] = op.charCodeAt(0)
  b[1] = verify ? 1 : 0
  b.writeBigUInt64BE(BigInt(size), 8)
  return b
}

export function decodeHeader (b: Buffer): { op: 'U' | 'D', size: number, verify: boolean } {
  const op = String.fromCharCode(b[0] ?? 0)
  if (op !== 'U' && op !== 'D') throw new Error(`bad bulk op ${op}`)
  return { op, verify: b[1] === 1, size: Number(b.readBigUInt64BE(8)) }
}
