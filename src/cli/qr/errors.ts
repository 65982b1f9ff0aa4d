/** The characters of QR alphanumeric mode, in the order of their values. */
export const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'

/** The text does not fit in the largest QR code (version 40) at the level asked for. */
export class QrTooLongError extends Error {
  /** Characters in the text. */
  readonly length: number
  constructor (length: number) {
    super(`${length} characters do not fit in a QR code`)
    this.name = 'QrTooLongError'
    this.length = length
  }
}
