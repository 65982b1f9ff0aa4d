/** Errors of the I2P backend. Every class sets `name` to its own class name. */

/** Nothing answers at the SAM address, or the connection to it broke. */
export class SamUnreachableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SamUnreachableError'
  }
}

/** The SAM bridge answered with an error result or something that is not SAM v3. */
export class SamProtocolError extends Error {
  /** The bridge's RESULT value (e.g. `CANT_REACH_PEER`, `INVALID_KEY`), when it sent one. */
  readonly result?: string
  constructor (message: string, result?: string) {
    super(message)
    this.name = 'SamProtocolError'
    if (result != null) this.result = result
  }
}

/** A SAM operation took longer than its bound. */
export class SamTimeoutError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SamTimeoutError'
  }
}

/** The caller's AbortSignal fired. */
export class SamAbortError extends Error {
  constructor (message = 'SAM operation aborted') {
    super(message)
    this.name = 'SamAbortError'
  }
}

/** A destination, .b32.i2p name, multiaddr or key file that is not valid I2P. */
export class I2pAddressError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'I2pAddressError'
  }
}

/** An I2P stream ended without beam's end-of-data mark: the far side vanished or the bytes were cut. */
export class I2pStreamCutError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'I2pStreamCutError'
  }
}
