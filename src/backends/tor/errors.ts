/** Errors of the Tor backend. Each has `name === ClassName` for the CLI's exit-code table. */

/** The control port could not be reached, or the connection broke. */
export class TorControlError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TorControlError'
  }
}

/** Tor refused the credentials (or none of the offered methods is possible). */
export class TorAuthError extends Error {
  /** Whether a control password would get beam in (tor asks for one, or its cookie is unreadable). */
  readonly passwordHelps: boolean
  constructor (message: string, options: { passwordHelps?: boolean } = {}) {
    super(message)
    this.name = 'TorAuthError'
    this.passwordHelps = options.passwordHelps ?? false
  }
}

/** A control command was answered with an error status (5xx). */
export class TorCommandError extends Error {
  /** Tor's three-digit status. */
  readonly status: number
  constructor (message: string, status: number) {
    super(message)
    this.name = 'TorCommandError'
    this.status = status
  }
}

/** The SOCKS5 proxy refused or failed a connect. */
export class SocksError extends Error {
  /** The SOCKS reply code (Tor's extended codes 0xF0-0xF7 included), or -1 before a reply. */
  readonly reply: number
  constructor (message: string, reply: number) {
    super(message)
    this.name = 'SocksError'
    this.reply = reply
  }
}

/** Starting a tor process (`--tor-launch`) failed. */
export class TorLaunchError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TorLaunchError'
  }
}

/** A Tor option (address, port, onion address, key file) is malformed. */
export class TorConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TorConfigError'
  }
}
