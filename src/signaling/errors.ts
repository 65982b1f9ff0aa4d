/** A handshake message could not be parsed or broke the protocol rules. */
export class HandshakeError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'HandshakeError'
  }
}

/** The peer speaks a handshake version this beam does not know. */
export class UnsupportedVersionError extends Error {
  /** The version the peer speaks. */
  readonly version: number
  constructor (version: number) {
    super(`peer speaks tunnel handshake version ${version}; this beam understands version 1`)
    this.name = 'UnsupportedVersionError'
    this.version = version
  }
}
