/**
 * A small QR Code encoder (ISO/IEC 18004), enough for connect strings:
 * one segment in alphanumeric mode (upper-case base32 fits it, 5.5 bits a
 * character) or byte mode (the text's UTF-8 bytes, with no ECI header:
 * decoders read non-ASCII bytes by guessing, so it is meant for ASCII), levels
 * L and M, versions 1-40, the mask with the lowest penalty. Checked against a real decoder (zbarimg) in
 * test/unit/cli/qr.test.ts.
 */
import { ALPHANUMERIC, QrTooLongError } from './errors.ts'
import { EC_BLOCKS, EC_CODEWORDS_PER_BLOCK, LEVEL_BITS, alignmentPositions, dataCodewords, rawDataModules } from './tables.ts'
import type { QrLevel } from './tables.ts'

/** A QR symbol: `size` × `size` modules, `dark[y][x]` true for a dark module. */
export interface QrCode {
  version: number
  level: QrLevel
  mask: number
  size: number
  dark: boolean[][]
}

/** Options of {@link encodeQr}. */
export interface QrOptions {
  /** Error correction level. @default 'L' */
  level?: QrLevel
}

class Bits {
  readonly bits: number[] = []
  put (value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits.push((value >>> i) & 1)
  }
}

/** The mode of the one segment and its character-count field width for a version. */
function segmentOf (text: string): { mode: 'alphanumeric' | 'byte', data: Uint8Array, chars: number } {
  if ([...text].every(c => ALPHANUMERIC.includes(c))) return { mode: 'alphanumeric', data: new TextEncoder().encode(text), chars: text.length }
  const data = new TextEncoder().encode(text)
  return { mode: 'byte', data, chars: data.length }
}

function countBits (mode: 'alphanumeric' | 'byte', version: number): number {
  if (mode === 'alphanumeric') return version <= 9 ? 9 : version <= 26 ? 11 : 13
  return version <= 9 ? 8 : 16
}

function segmentBits (text: string, version: number): Bits {
  const seg = segmentOf(text)
  const out = new Bits()
  out.put(seg.mode === 'alphanumeric' ? 0b0010 : 0b0100, 4)
  out.put(seg.chars, countBits(seg.mode, version))
  if (seg.mode === 'alphanumeric') {
    for (let i = 0; i + 1 < text.length; i += 2) out.put(ALPHANUMERIC.indexOf(text.charAt(i)) * 45 + ALPHANUMERIC.indexOf(text.charAt(i + 1)), 11)
    if (text.length % 2 === 1) out.put(ALPHANUMERIC.indexOf(text.charAt(text.length - 1)), 6)
  } else {
    for (const b of seg.data) out.put(b, 8)
  }
  return out
}

// ---------------------------------------------------------------- Reed-Solomon over GF(256), polynomial 0x11d

function gfMultiply (a: number, b: number): number {
  let r = 0
  for (let i = 7; i >= 0; i--) {
    r = (r << 1) ^ ((r >>> 7) * 0x11d)
    r ^= ((b >>> i) & 1) * a
  }
  return r & 0xff
}

/** The generator polynomial of degree `n` (its coefficients after the leading 1). */
function rsGenerator (n: number): number[] {
  const g = new Array<number>(n).fill(0)
  g[n - 1] = 1
  let root = 1
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      g[j] = gfMultiply(g[j] ?? 0, root) ^ (g[j + 1] ?? 0)
    }
    root = gfMultiply(root, 0x02)
  }
  return g
}

function rsRemainder (data: number[], generator: number[]): number[] {
  const r = new Array<number>(generator.length).fill(0)
  for (const b of data) {
    const factor = b ^ (r.shift() ?? 0)
    r.push(0)
    for (let i = 0; i < r.length; i++) r[i] = (r[i] ?? 0) ^ gfMultiply(generator[i] ?? 0, factor)
  }
  return r
}

/** Data codewords split into blocks, each with its error correction, interleaved as the symbol carries them. */
function interleave (data: number[], version: number, level: QrLevel): number[] {
  const blocks = EC_BLOCKS[level][version] ?? 1
  const ecLen = EC_CODEWORDS_PER_BLOCK[level][version] ?? 0
  const raw = Math.floor(rawDataModules(version) / 8)
  const shortBlocks = blocks - (raw % blocks)
  const shortLen = Math.floor(raw / blocks)
  const generator = rsGenerator(ecLen)
  const all: Array<{ data: number[], ec: number[] }> = []
  for (let i = 0, k = 0; i < blocks; i++) {
    const len = shortLen - ecLen + (i < shortBlocks ? 0 : 1)
    const d = data.slice(k, k + len)
    k += len
    all.push({ data: d, ec: rsRemainder(d, generator) })
  }
  const out: number[] = []
  for (let i = 0; i <= shortLen - ecLen; i++) {
    for (const b of all) if (i < b.data.length) out.push(b.data[i] ?? 0)
  }
  for (let i = 0; i < ecLen; i++) {
    for (const b of all) out.push(b.ec[i] ?? 0)
  }
  return out
}

// ---------------------------------------------------------------- the symbol

class Matrix {
  readonly size: number
  readonly dark: boolean[][]
  readonly fixed: boolean[][]
  constructor (size: number) {
    this.size = size
    this.dark = Array.from({ length: size }, () => new Array<boolean>(size).fill(false))
    this.fixed = Array.from({ length: size }, () => new Array<boolean>(size).fill(false))
  }

  set (x: number, y: number, dark: boolean): void {
    const row = this.dark[y]
    const fixedRow = this.fixed[y]
    if (row == null || fixedRow == null || x < 0 || x >= this.size) return
    row[x] = dark
    fixedRow[x] = true
  }

  isFixed (x: number, y: number): boolean { return this.fixed[y]?.[x] === true }
}

function drawFinder (m: Matrix, cx: number, cy: number): void {
  for (let dy = -4; dy <= 4; dy++) {
    for (let dx = -4; dx <= 4; dx++) {
      const d = Math.max(Math.abs(dx), Math.abs(dy))
      m.set(cx + dx, cy + dy, d !== 2 && d !== 4)
    }
  }
}

function drawFunctionPatterns (m: Matrix, version: number): void {
  const size = m.size
  for (let i = 0; i < size; i++) {
    m.set(6, i, i % 2 === 0)
    m.set(i, 6, i % 2 === 0)
  }
  drawFinder(m, 3, 3)
  drawFinder(m, size - 4, 3)
  drawFinder(m, 3, size - 4)
  const align = alignmentPositions(version)
  for (const [i, cy] of align.entries()) {
    for (const [j, cx] of align.entries()) {
      // not over the three finder patterns
      if ((i === 0 && j === 0) || (i === 0 && j === align.length - 1) || (i === align.length - 1 && j === 0)) continue
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) m.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1)
      }
    }
  }
  drawFormat(m, 'L', 0)
  if (version >= 7) {
    let rem = version
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25)
    const bits = (version << 12) | rem
    for (let i = 0; i < 18; i++) {
      const bit = ((bits >>> i) & 1) === 1
      const a = size - 11 + (i % 3)
      const b = Math.floor(i / 3)
      m.set(a, b, bit)
      m.set(b, a, bit)
    }
  }
}

/** The 15 format bits (level and mask, BCH-protected) in both copies, and the dark module. */
function drawFormat (m: Matrix, level: QrLevel, mask: number): void {
  const data = (LEVEL_BITS[level] << 3) | mask
  let rem = data
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537)
  const bits = ((data << 10) | rem) ^ 0x5412
  const bit = (i: number): boolean => ((bits >>> i) & 1) === 1
  const size = m.size
  for (let i = 0; i <= 5; i++) m.set(8, i, bit(i))
  m.set(8, 7, bit(6))
  m.set(8, 8, bit(7))
  m.set(7, 8, bit(8))
  for (let i = 9; i < 15; i++) m.set(14 - i, 8, bit(i))
  for (let i = 0; i < 8; i++) m.set(size - 1 - i, 8, bit(i))
  for (let i = 8; i < 15; i++) m.set(8, size - 15 + i, bit(i))
  m.set(8, size - 8, true)
}

/** Codewords into the non-function modules, in the zigzag of two-module columns from the bottom right. */
function placeCodewords (m: Matrix, codewords: number[]): void {
  const size = m.size
  let i = 0
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5
    const upward = ((right + 1) & 2) === 0
    for (let v = 0; v < size; v++) {
      const y = upward ? size - 1 - v : v
      for (let j = 0; j < 2; j++) {
        const x = right - j
        if (m.isFixed(x, y)) continue
        const row = m.dark[y]
        if (row != null && i < codewords.length * 8) row[x] = (((codewords[i >>> 3] ?? 0) >>> (7 - (i & 7))) & 1) === 1
        i++
      }
    }
  }
}

const MASKS: ReadonlyArray<(x: number, y: number) => boolean> = [
  (x, y) => (x + y) % 2 === 0,
  (_x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => (x * y) % 2 + (x * y) % 3 === 0,
  (x, y) => ((x * y) % 2 + (x * y) % 3) % 2 === 0,
  (x, y) => ((x + y) % 2 + (x * y) % 3) % 2 === 0
]

function applyMask (m: Matrix, mask: number): void {
  const f = MASKS[mask] ?? MASKS[0]
  for (let y = 0; y < m.size; y++) {
    const row = m.dark[y]
    if (row == null) continue
    for (let x = 0; x < m.size; x++) if (!m.isFixed(x, y) && f?.(x, y) === true) row[x] = !(row[x] ?? false)
  }
}

/** The standard's penalty score of a finished symbol: runs, 2×2 blocks, finder-like patterns, dark balance. */
function penalty (dark: boolean[][]): number {
  const size = dark.length
  const at = (x: number, y: number): boolean => dark[y]?.[x] === true
  let score = 0
  const finderLike = (line: boolean[]): number => {
    let n = 0
    const s = line.map(b => (b ? '1' : '0')).join('')
    for (const p of ['10111010000', '00001011101']) {
      for (let i = s.indexOf(p); i >= 0; i = s.indexOf(p, i + 1)) n++
    }
    return n
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let a = 0; a < size; a++) {
      const line: boolean[] = []
      for (let b = 0; b < size; b++) line.push(pass === 0 ? at(b, a) : at(a, b))
      let run = 1
      for (let b = 1; b <= size; b++) {
        if (b < size && line[b] === line[b - 1]) run++
        else {
          if (run >= 5) score += 3 + (run - 5)
          run = 1
        }
      }
      score += 40 * finderLike(line)
    }
  }
  for (let y = 0; y + 1 < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const c = at(x, y)
      if (at(x + 1, y) === c && at(x, y + 1) === c && at(x + 1, y + 1) === c) score += 3
    }
  }
  const darkCount = dark.reduce((n, row) => n + row.filter(Boolean).length, 0)
  score += 10 * Math.floor(Math.abs(darkCount * 20 - size * size * 10) / (size * size))
  return score
}

/** Encode `text` as a QR code: the smallest version that holds it at the level. Throws {@link QrTooLongError}. */
export function encodeQr (text: string, options: QrOptions = {}): QrCode {
  const level = options.level ?? 'L'
  let version = 0
  let bits: Bits | undefined
  for (let v = 1; v <= 40; v++) {
    const b = segmentBits(text, v)
    if (b.bits.length <= dataCodewords(v, level) * 8) {
      version = v
      bits = b
      break
    }
  }
  if (bits == null) throw new QrTooLongError(text.length)
  const capacity = dataCodewords(version, level) * 8
  bits.put(0, Math.min(4, capacity - bits.bits.length))
  bits.put(0, (8 - (bits.bits.length % 8)) % 8)
  for (let pad = 0xec; bits.bits.length < capacity; pad ^= 0xec ^ 0x11) bits.put(pad, 8)
  const data: number[] = []
  for (let i = 0; i < bits.bits.length; i += 8) {
    let byte = 0
    for (let j = 0; j < 8; j++) byte = (byte << 1) | (bits.bits[i + j] ?? 0)
    data.push(byte)
  }
  const codewords = interleave(data, version, level)
  let best: QrCode | undefined
  let bestScore = Infinity
  for (let mask = 0; mask < 8; mask++) {
    const m = new Matrix(version * 4 + 17)
    drawFunctionPatterns(m, version)
    placeCodewords(m, codewords)
    applyMask(m, mask)
    drawFormat(m, level, mask)
    const score = penalty(m.dark)
    if (score < bestScore) {
      bestScore = score
      best = { version, level, mask, size: m.size, dark: m.dark }
    }
  }
  if (best == null) throw new QrTooLongError(text.length)
  return best
}
