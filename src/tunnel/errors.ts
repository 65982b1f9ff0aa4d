import { hostPort } from './host-port.ts'

/** The local TCP port could not be bound. */
export class AddressInUseError extends Error {
  /** The local address asked for. */
  readonly host: string
  /** The local port asked for. */
  readonly port: number
  /** `port` 0 with a unix socket path as `host`. */
  constructor (host: string, port: number, cause?: unknown) {
    super(port === 0 && host.startsWith('/') ? `${host}: another process listens on this socket` : `${hostPort(host, port)} is already in use`, { cause })
    this.name = 'AddressInUseError'
    this.host = host
    this.port = port
  }
}

/** Binding the local port failed for another reason (permission, bad address). */
export class ListenError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'ListenError'
  }
}

/** The shared local service refused or did not answer. */
export class LocalServiceUnreachableError extends Error {
  /** The socket error code, e.g. ECONNREFUSED, or TIMEOUT. */
  readonly code: string
  /** `port` undefined when `host` names a unix socket (`unix:/path`). */
  constructor (host: string, port: number | undefined, code: string, cause?: unknown) {
    super(`cannot reach the shared service at ${port != null ? hostPort(host, port) : host} (${code})`, { cause })
    this.name = 'LocalServiceUnreachableError'
    this.code = code
  }
}

/**
 * A tunnel's stream ended without the peer's clean end of data: its
 * connection closed before the remote's FIN, or the local side sent bytes the
 * stream could no longer carry. The local socket is reset, never ended
 * cleanly, so that the application sees the loss.
 */
export class TunnelTruncatedError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TunnelTruncatedError'
  }
}
