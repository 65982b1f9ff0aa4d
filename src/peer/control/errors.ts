/** The control socket's file is not one this user alone can reach (another owner, or open to others): beam does not talk to it. */
export class ControlSocketUnsafeError extends Error {
  /** The socket file. */
  readonly path: string
  constructor (message: string, path: string) {
    super(message)
    this.name = 'ControlSocketUnsafeError'
    this.path = path
  }
}

/** The control socket answered something that is not this version's control protocol. */
export class ControlProtocolError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ControlProtocolError'
  }
}

/** No process listens on the control socket any more (it was killed), or it did not answer in time. */
export class ProcessGoneError extends Error {
  /** The process id the socket is named for. */
  readonly pid: number
  /** Whether the stale socket file was removed. */
  readonly removed: boolean
  constructor (message: string, pid: number, removed = false) {
    super(message)
    this.name = 'ProcessGoneError'
    this.pid = pid
    this.removed = removed
  }
}

/** A control socket could not be opened (its path is taken by a live process, or the folder is unusable). */
export class ControlListenError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ControlListenError'
  }
}

/**
 * The process on a token file's loopback port closed the connection on the
 * token: the file is not that process's (a forged or outdated file, or
 * another program on the port). beam treats it as an endpoint not safe to use.
 */
export class ControlTokenRefusedError extends Error {
  /** The token file. */
  readonly path: string
  constructor (message: string, path: string) {
    super(message)
    this.name = 'ControlTokenRefusedError'
    this.path = path
  }
}
