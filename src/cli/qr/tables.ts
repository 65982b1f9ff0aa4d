/**
 * The numbers of ISO/IEC 18004 (QR Code) that the encoder needs, per
 * version 1-40 (index 0 unused): error correction codewords per block and
 * blocks, for levels L and M. Checked by decoding a code of every version
 * and level with zbarimg (test/unit/cli/qr.test.ts).
 */

/** Error correction levels this encoder offers: L (~7 % of codewords recoverable), M (~15 %). */
export type QrLevel = 'L' | 'M'

/** Error correction codewords in each block, by level and version. */
export const EC_CODEWORDS_PER_BLOCK: Record<QrLevel, readonly number[]> = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28]
}

/** Error correction blocks, by level and version. */
export const EC_BLOCKS: Record<QrLevel, readonly number[]> = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49]
}

/** The two format bits of each level (L 01, M 00). */
export const LEVEL_BITS: Record<QrLevel, number> = { L: 1, M: 0 }

/** Modules of a version's symbol that carry codewords (data and error correction) and remainder bits. */
export function rawDataModules (version: number): number {
  let n = (16 * version + 128) * version + 64
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2
    n -= (25 * align - 10) * align - 55
    if (version >= 7) n -= 36
  }
  return n
}

/** Data codewords of a version and level (all codewords less the error correction). */
export function dataCodewords (version: number, level: QrLevel): number {
  return Math.floor(rawDataModules(version) / 8) - (EC_CODEWORDS_PER_BLOCK[level][version] ?? 0) * (EC_BLOCKS[level][version] ?? 0)
}

/** Centre coordinates of the alignment patterns (each row and column), empty for version 1. */
export function alignmentPositions (version: number): number[] {
  if (version === 1) return []
  const size = version * 4 + 17
  const count = Math.floor(version / 7) + 2
  const step = version === 32 ? 26 : Math.ceil((version * 4 + 4) / (count * 2 - 2)) * 2
  const positions = [6]
  for (let pos = size - 7; positions.length < count; pos -= step) positions.splice(1, 0, pos)
  return positions
}
