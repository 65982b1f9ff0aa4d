/**
 * The QR encoder of `beam share --qr`, checked against a real decoder
 * (zbarimg): a code of every version 1-40 at levels L and M, filled to the
 * version's capacity (so the capacity tables are checked too), byte mode,
 * and the terminal rendering read back from its text.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALPHANUMERIC, QrTooLongError, encodeQr, qrTerminalWidth, renderQrTerminal } from '../../../src/cli/qr/index.ts'
import { dataCodewords } from '../../../src/cli/qr/tables.ts'
import type { QrLevel } from '../../../src/cli/qr/index.ts'
import { suiteNeeds } from '../../helpers/require-tools.ts'
import { decodeImage, modulesFromText, qrDecoderNeed, writePbm } from '../../helpers/qr-decode.ts'
import { tempHome } from '../../helpers/beam.ts'

/** The most alphanumeric characters version `v` holds at `level`. */
function alnumCapacity (v: number, level: QrLevel): number {
  const bits = dataCodewords(v, level) * 8 - 4 - (v <= 9 ? 9 : v <= 26 ? 11 : 13)
  return Math.floor(bits / 11) * 2 + (bits % 11 >= 6 ? 1 : 0)
}

function alnumText (length: number): string {
  return [...randomBytes(length)].map(b => ALPHANUMERIC.charAt(b % ALPHANUMERIC.length)).join('')
}

describe('QR encoder (no decoder needed)', () => {
  it('picks the smallest version: a text one character past a version\'s capacity takes the next', () => {
    for (const level of ['L', 'M'] as const) {
      for (const v of [1, 5, 9, 10, 26, 27, 39]) {
        expect(encodeQr(alnumText(alnumCapacity(v, level)), { level }).version).toBe(v)
        expect(encodeQr(alnumText(alnumCapacity(v, level) + 1), { level }).version).toBe(v + 1)
      }
    }
  })
  it('refuses a text longer than version 40 holds', () => {
    expect(() => encodeQr(alnumText(alnumCapacity(40, 'L') + 1))).toThrow(QrTooLongError)
  })
  it('renders two module rows a line, with a quiet zone of 4', () => {
    const code = encodeQr('BEAM')
    const lines = renderQrTerminal(code)
    expect(lines).toHaveLength(Math.ceil((code.size + 8) / 2))
    expect(qrTerminalWidth(code)).toBe(code.size + 8)
    expect(modulesFromText(lines).slice(4, 4 + code.size).map(r => r.slice(4, 4 + code.size))).toEqual(code.dark)
  })
})

const skip = suiteNeeds('QR decoder tests', qrDecoderNeed())

describe.skipIf(skip)('QR encoder against zbarimg', () => {
  let dir: Awaited<ReturnType<typeof tempHome>>
  beforeAll(async () => { dir = await tempHome() })
  afterAll(async () => { await dir?.cleanup() })

  it('every version 1-40 at L and M, filled to capacity, decodes to its text', async () => {
    const failures: string[] = []
    for (const level of ['L', 'M'] as const) {
      for (let v = 1; v <= 40; v++) {
        const text = alnumText(alnumCapacity(v, level))
        const code = encodeQr(text, { level })
        expect(code.version).toBe(v)
        const file = join(dir.dir, `v${v}${level}.pbm`)
        await writePbm(file, code.dark, v > 20 ? 2 : 3)
        const got = await decodeImage(file).catch((err: Error) => `(no decode: ${err.message.split('\n')[0] ?? ''})`)
        if (got !== text) failures.push(`version ${v}-${level} (mask ${code.mask}): ${got.slice(0, 60)}`)
      }
    }
    expect(failures).toEqual([])
  }, 120_000)

  it('byte mode (lower case, punctuation) decodes too', async () => {
    // ASCII only: byte mode writes the UTF-8 bytes without an ECI header, which decoders read by guessing
    for (const text of ['beamaeasmabebaareiebhf3q5kd5c5pvni2um3buy7wmzogyvenu5y32expwb5ny7sntsqirceirc', 'ssh -o ProxyCommand="beam connect %h --stdio" user@box']) {
      const file = join(dir.dir, 'byte.pbm')
      await writePbm(file, encodeQr(text, { level: 'M' }).dark)
      expect(await decodeImage(file)).toBe(text)
    }
  })

  it('the terminal rendering, read back from its text, decodes', async () => {
    const text = alnumText(200)
    const file = join(dir.dir, 'text.pbm')
    await writePbm(file, modulesFromText(renderQrTerminal(encodeQr(text))))
    expect(await decodeImage(file)).toBe(text)
  })
})
