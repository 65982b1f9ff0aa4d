/**
 * Reading QR codes back in tests with a real decoder: zbarimg (Debian
 * zbar-tools). A symbol (modules) or the half-block text beam prints is
 * written as a PBM image and decoded.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { findTool } from './sshd.ts'
import { need } from './require-tools.ts'
import type { Need } from './require-tools.ts'

const run = promisify(execFile)

/** What the QR tests need. */
export function qrDecoderNeed (): Need {
  return need(findTool('zbarimg') != null, '\'zbarimg\' not found in PATH (scripts/install-test-deps.sh installs zbar-tools)')
}

/** Modules (`dark[y][x]`) as a PBM image at `path`: `scale` pixels a module, a quiet zone of 4 modules. */
export async function writePbm (path: string, dark: boolean[][], scale = 4): Promise<void> {
  const quiet = 4
  const n = (dark.length + 2 * quiet) * scale
  const rows: string[] = []
  for (let y = 0; y < n; y++) {
    let r = ''
    for (let x = 0; x < n; x++) r += dark[Math.floor(y / scale) - quiet]?.[Math.floor(x / scale) - quiet] === true ? '1' : '0'
    rows.push(r)
  }
  await writeFile(path, `P1\n${n} ${n}\n${rows.join('\n')}\n`)
}

/** The text of the one QR code in the image at `path`, as zbarimg reads it. */
export async function decodeImage (path: string): Promise<string> {
  const { stdout } = await run(findTool('zbarimg') ?? 'zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', path])
  return stdout.replace(/\n$/, '')
}

/**
 * The modules of a QR code printed as half blocks (`▀`, `▄`, `█`, space),
 * one text line per two rows, quiet zone included: lines other than the
 * code's are skipped (they must contain no block character).
 */
export function modulesFromText (lines: string[]): boolean[][] {
  // eslint-disable-next-line no-control-regex
  const strip = (l: string): string => l.replace(/\x1b\[[0-9;]*m/g, '')
  const code = lines.map(strip).filter(l => /[▀▄█]/.test(l) || (/^ +$/.test(l) && l.length > 20))
  const rows: boolean[][] = []
  for (const l of code) {
    rows.push([...l].map(c => c === '▀' || c === '█'))
    rows.push([...l].map(c => c === '▄' || c === '█'))
  }
  return rows
}
