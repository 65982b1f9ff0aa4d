/** QR codes for the terminal (`beam share --qr`): a small encoder and a half-block renderer. */
export { encodeQr } from './encode.ts'
export type { QrCode, QrOptions } from './encode.ts'
export { renderQrTerminal, renderQrSvg, qrTerminalWidth } from './render.ts'
export type { QrRenderOptions } from './render.ts'
export { QrTooLongError, ALPHANUMERIC } from './errors.ts'
export type { QrLevel } from './tables.ts'
