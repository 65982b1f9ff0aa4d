import type { BackendAvailability, BackendFix } from '../backends/index.ts'

/**
 * Exit codes of the beam command, one per kind of failure, stable across
 * releases (scripts depend on them). docs/cli.md lists them.
 */
export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INVALID_PORT: 3,
  INVALID_TARGET: 4,
  ADDRESS_IN_USE: 5,
  IDENTITY: 6,
  CONFIG: 7,
  PEER_NOT_FOUND: 8,
  PEER_UNREACHABLE: 9,
  REFUSED: 10,
  UNKNOWN_PORT: 11,
  PROTOCOL: 12,
  BACKEND_UNAVAILABLE: 13,
  OVERLOADED: 14,
  NO_SUCH_PROCESS: 15,
  PROCESS_GONE: 16,
  CONTROL_UNSAFE: 17,
  NAME_TAKEN: 18,
  TLS: 19,
  ACME: 20,
  NODE_TOO_OLD: 69,
  INTERRUPTED: 130
} as const
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/** Error class name → exit code and the code string of the `error` event. */
const TABLE = new Map<string, { exit: ExitCode, code: string }>(Object.entries({
  UsageError: { exit: ExitCode.USAGE, code: 'usage' },
  InvalidOptionError: { exit: ExitCode.USAGE, code: 'usage' },
  RelayLimitError: { exit: ExitCode.USAGE, code: 'usage' },
  InvalidPortError: { exit: ExitCode.INVALID_PORT, code: 'invalid-port' },
  InvalidTargetError: { exit: ExitCode.INVALID_TARGET, code: 'invalid-target' },
  InvalidConnectStringError: { exit: ExitCode.INVALID_TARGET, code: 'invalid-target' },
  AddressInUseError: { exit: ExitCode.ADDRESS_IN_USE, code: 'address-in-use' },
  ListenError: { exit: ExitCode.ADDRESS_IN_USE, code: 'listen-failed' },
  IdentityError: { exit: ExitCode.IDENTITY, code: 'identity' },
  // beam import: a file that is not an export, or the wrong passphrase
  SealedFileError: { exit: ExitCode.IDENTITY, code: 'identity' },
  BootstrapConfigError: { exit: ExitCode.CONFIG, code: 'config' },
  ConfigError: { exit: ExitCode.CONFIG, code: 'config' },
  AliasFileError: { exit: ExitCode.CONFIG, code: 'config' },
  InvalidAliasError: { exit: ExitCode.USAGE, code: 'usage' },
  InvalidMultiaddrError: { exit: ExitCode.CONFIG, code: 'config' },
  PeerNotFoundError: { exit: ExitCode.PEER_NOT_FOUND, code: 'peer-not-found' },
  PeerUnreachableError: { exit: ExitCode.PEER_UNREACHABLE, code: 'peer-unreachable' },
  // reached only through a relay that limits its connections, and no direct path came
  LimitedRelayOnlyError: { exit: ExitCode.PEER_UNREACHABLE, code: 'limited-relay' },
  TunnelRefusedError: { exit: ExitCode.REFUSED, code: 'refused' },
  UnknownPortError: { exit: ExitCode.UNKNOWN_PORT, code: 'unknown-port' },
  TunnelProtocolError: { exit: ExitCode.PROTOCOL, code: 'protocol' },
  // the share holds as many tunnels as it allows (for this peer or in total): a later attempt may work
  ShareOverloadedError: { exit: ExitCode.OVERLOADED, code: 'overloaded' },
  HandshakeError: { exit: ExitCode.PROTOCOL, code: 'protocol' },
  UnsupportedVersionError: { exit: ExitCode.PROTOCOL, code: 'protocol' },
  // the peer runs no beam share (e.g. a relay), or never answered the handshake
  UnsupportedProtocolError: { exit: ExitCode.PROTOCOL, code: 'protocol' },
  TimeoutError: { exit: ExitCode.PEER_UNREACHABLE, code: 'peer-unreachable' },
  // beam connect --stdio: its one tunnel was cut (no clean end from the share), or the shared service did not accept it
  TunnelTruncatedError: { exit: ExitCode.PEER_UNREACHABLE, code: 'tunnel-broken' },
  ServiceUnavailableError: { exit: ExitCode.PEER_UNREACHABLE, code: 'service-unavailable' },
  // a network backend (Tor, …) that cannot be used: not implemented, daemon not running, auth refused
  BackendUnavailableError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  TorControlError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  TorAuthError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  TorCommandError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  TorLaunchError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  TorConfigError: { exit: ExitCode.CONFIG, code: 'config' },
  SocksError: { exit: ExitCode.PEER_UNREACHABLE, code: 'peer-unreachable' },
  // I2P: no SAM bridge, or one that is not SAM v3; a damaged key file or bad SAM address; a SAM operation past its bound
  SamUnreachableError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  SamProtocolError: { exit: ExitCode.BACKEND_UNAVAILABLE, code: 'backend-unavailable' },
  I2pAddressError: { exit: ExitCode.CONFIG, code: 'config' },
  SamTimeoutError: { exit: ExitCode.PEER_UNREACHABLE, code: 'peer-unreachable' },
  // the local control plane (beam status, logs, stop): no such process; a stale socket or no answer; a socket not this user's alone; another protocol
  NoSuchProcessError: { exit: ExitCode.NO_SUCH_PROCESS, code: 'no-such-process' },
  ProcessGoneError: { exit: ExitCode.PROCESS_GONE, code: 'process-gone' },
  ControlSocketUnsafeError: { exit: ExitCode.CONTROL_UNSAFE, code: 'control-unsafe' },
  ControlTokenRefusedError: { exit: ExitCode.CONTROL_UNSAFE, code: 'control-unsafe' },
  ControlProtocolError: { exit: ExitCode.PROTOCOL, code: 'control-protocol' },
  // beam gateway and a share's registration with one
  GatewayNameTakenError: { exit: ExitCode.NAME_TAKEN, code: 'name-taken' },
  InvalidGatewayNameError: { exit: ExitCode.USAGE, code: 'usage' },
  GatewayConfigError: { exit: ExitCode.USAGE, code: 'usage' },
  GatewayRefusedError: { exit: ExitCode.REFUSED, code: 'refused' },
  TlsConfigError: { exit: ExitCode.TLS, code: 'tls' },
  AcmeError: { exit: ExitCode.ACME, code: 'acme' }
}))

/** Exit code and event code for an error; unknown errors are internal. */
export function classify (err: unknown): { exit: ExitCode, code: string } {
  const name = err instanceof Error ? err.name : ''
  // a Map: an error's name is not always ours (a thrown object may be named 'constructor')
  return TABLE.get(name) ?? { exit: ExitCode.INTERNAL, code: 'internal' }
}

/**
 * What the CLI adds to a library error's line, by error name: the library
 * states facts (and carries fields), the CLI names the flags that help.
 */
const HINTS = new Map<string, (err: Error & Record<string, unknown>) => string | undefined>(Object.entries({
  IdentityError: e => e.kind === 'access-secret' ? 'delete it or pass --rotate-secret' : undefined,
  PeerNotFoundError: e => e.noBootstrap === true ? 'bootstrap-nodes.json is empty and no --bootstrap was given' : undefined,
  LimitedRelayOnlyError: e => e.webrtcOff === true
    ? 'drop --no-webrtc, or have the share hold a reservation on a relay without limits (beam share --bootstrap <a beam relay>)'
    : 'have the share hold a reservation on a relay without limits (beam share --bootstrap <a beam relay>), or give this side a TURN server (--ice-server turn:USER:PASS@HOST:PORT)',
  ProcessGoneError: e => e.removed === true ? undefined : 'beam cleanup removes stale sockets',
  ControlSocketUnsafeError: () => 'remove it if it is not yours, or chmod 600 it if it is',
  ControlTokenRefusedError: () => 'remove the file if no beam process of yours has that pid',
  TorAuthError: e => e.passwordHelps === true ? 'pass --tor-password (--ator-password for ATOR)' : undefined,
  GatewayNameTakenError: () => 'pick another --name, or run the share with the identity that claimed it'
}))

/** The flags that carry out a backend's suggested fix (BackendAvailability.fix), by backend. */
const FIX_FLAGS = new Map<string, Partial<Record<BackendFix, string>>>([
  ['tor', { launch: 'or pass --tor-launch' }],
  ['ator', { launch: 'or pass --ator-launch', binary: 'or pass --anon-binary PATH' }]
])

/** The CLI's flag for a backend's suggested fix, if it has one (e.g. 'or pass --tor-launch'). */
export function availabilityHint (backend: string, a: BackendAvailability): string | undefined {
  return a.fix != null ? FIX_FLAGS.get(backend)?.[a.fix] : undefined
}

/** A backend's availability reason in one line, with the CLI's flag for its fix if there is one. */
export function availabilityLine (backend: string, a: BackendAvailability): string {
  const reason = a.reason ?? a.status
  const hint = availabilityHint(backend, a)
  return hint != null ? `${reason} (${hint})` : reason
}

/** The one line beam prints for an error: its message, and the CLI's flag hint if there is one. */
export function errorLine (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const hint = HINTS.get(err.name)?.(err as Error & Record<string, unknown>)
  return hint != null ? `${err.message}; ${hint}` : err.message
}

/** A command-line usage mistake (the parser's own errors are mapped to it). */
export class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** A port argument that is not 1-65535 (or 0 where allowed). */
export class InvalidPortError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidPortError'
  }
}
