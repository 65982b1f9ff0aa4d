import type { QrCode } from './encode.ts'

/** Options of {@link renderQrTerminal}. */
export interface QrRenderOptions {
  /** Light modules around the code (the standard asks for 4). @default 4 */
  quiet?: number
}

/** Black on bright white, whatever the terminal's own colours: dark modules must be darker than light ones for a scanner. */
const COLORS = '\x1b[30;107m'
const RESET = '\x1b[0m'

/**
 * A QR code as terminal lines: two rows of modules a line (half blocks:
 * `▀` top dark, `▄` bottom dark, `█` both), black on white set with ANSI
 * colours, with a quiet zone. Width is size + 2 × quiet columns.
 */
export function renderQrTerminal (code: QrCode, options: QrRenderOptions = {}): string[] {
  const quiet = options.quiet ?? 4
  const full = code.size + 2 * quiet
  const at = (x: number, y: number): boolean => code.dark[y - quiet]?.[x - quiet] === true
  const lines: string[] = []
  for (let y = 0; y < full; y += 2) {
    let line = ''
    for (let x = 0; x < full; x++) {
      const top = at(x, y)
      const bottom = y + 1 < full && at(x, y + 1)
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' '
    }
    lines.push(COLORS + line + RESET)
  }
  return lines
}

/** Columns the rendered code takes. */
export function qrTerminalWidth (code: QrCode, options: QrRenderOptions = {}): number {
  return code.size + 2 * (options.quiet ?? 4)
}

/**
 * A QR code as an SVG image: one path of unit squares for the dark modules
 * on a white background, with a quiet zone, scaled by the viewer
 * (`shape-rendering: crispEdges` keeps module edges sharp).
 */
export function renderQrSvg (code: QrCode, options: QrRenderOptions = {}): string {
  const quiet = options.quiet ?? 4
  const full = code.size + 2 * quiet
  let d = ''
  for (let y = 0; y < code.size; y++) {
    for (let x = 0; x < code.size; x++) {
      if (code.dark[y]?.[x] === true) d += `M${x + quiet} ${y + quiet}h1v1h-1z`
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" shape-rendering="crispEdges"><rect width="${full}" height="${full}" fill="#fff"/><path d="${d}" fill="#000"/></svg>\n`
}
