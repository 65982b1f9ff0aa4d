/**
 * The shape of `beam.config.yaml` once read: the types every section
 * produces, the limits and names the file is held to, and `ConfigError`, which
 * lists every problem as `FILE:LINE: path.to.key: what is wrong`.
 */
/** The file name beam looks for in its home directory. */
export const CONFIG_FILE_NAME = 'beam.config.yaml'
/** The only schema version so far. */
export const CONFIG_VERSION = 1
/** Larger files are refused (a config file is a few KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** Backend names the file may configure without being told of more. */
export const BUILTIN_BACKENDS = ['direct', 'tor', 'ator', 'i2p'] as const

/** How several backends are used: one after the other, or all at once. */
export type Strategy = 'fallback' | 'first-success'
/** Who may open a share's tunnels (see `beam share --public / --allow`). */
export type AccessMode = 'public' | 'secret' | 'allow'

/** One problem in a config file. */
export interface ConfigIssue {
  file: string
  /** 1-based line of the offending key or value. */
  line: number
  /** 1-based column. */
  column: number
  /** Dotted path of the key, e.g. `tunnels.web.port` (empty for the whole file). */
  path: string
  message: string
}

const formatIssue = (i: ConfigIssue): string => `${i.file}:${i.line}: ${i.path === '' ? '' : `${i.path}: `}${i.message}`

/** A config file that cannot be used; `issues` lists every problem found. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[]

  constructor (issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** `host:port` as written in the file, split. */
export interface HostPort {
  host: string
  port: number
}

/** What every backend entry has. */
export interface BackendSettings {
  /** Lower numbers are tried first. @default 100 */
  priority: number
  /** `false` keeps the entry but never uses the backend. @default true */
  enabled: boolean
  /** Line of the entry in the file, for later messages. */
  line: number
}

export interface DirectBackendConfig extends BackendSettings {
  /** STUN/TURN servers for WebRTC; `[]` for none. @default the bootstrap list's */
  iceServers?: IceServerConfig[]
  /** Bootstrap peers as multiaddrs with `/p2p/`. @default bootstrap-nodes.json */
  bootstrap?: string[]
  /** `false`: never use the public STUN servers (as `--no-public-stun`). @default true */
  publicStun?: boolean
}

export interface IceServerConfig {
  /** `stun:`, `stuns:`, `turn:` or `turns:` URLs. */
  urls: string[]
  /** TURN user name. @default none */
  username?: string
  /** TURN password. @default none */
  credential?: string
}

export interface TorBackendConfig extends BackendSettings {
  /** Tor control port. @default 127.0.0.1:9051 */
  control?: HostPort
  /** Tor SOCKS5 port. @default 127.0.0.1:9050 */
  socks?: HostPort
  /** HashedControlPassword authentication. @default none */
  controlPassword?: string
  /** Start Debian's tor with a private data dir instead of using a running one (`--tor-launch`). @default false */
  launch?: boolean
  /** Extra torrc lines for `launch` (`--tor-launch-config`). @default none */
  launchConfig?: string
  /** Keep the same onion address across runs (`--tor-persistent`). @default false */
  persistent?: boolean
  /** Port of a share's onion service (`--onion-port`). @default 4001 */
  onionPort?: number
}

/** ATOR (anon, a Tor fork): the Tor settings but `onionPort`, plus where anon is. */
export interface AtorBackendConfig extends Omit<TorBackendConfig, 'onionPort'> {
  /** The anon binary (`--anon-binary`). @default PATH, then scripts/install-ator.sh's folder */
  anonBinary?: string
}

export interface I2pBackendConfig extends BackendSettings {
  /** The router's SAM v3 bridge. @default 127.0.0.1:7656 */
  sam?: HostPort
}

/** A backend the app registered itself (see `ParseConfigOptions.extraBackends`). */
export interface ExtraBackendConfig extends BackendSettings {
  /** Its `options:` map, unchecked: the backend validates it. @default {} */
  options: Record<string, unknown>
}

export interface BackendsConfig {
  direct?: DirectBackendConfig
  tor?: TorBackendConfig
  ator?: AtorBackendConfig
  i2p?: I2pBackendConfig
  /** Entries for backends named in `ParseConfigOptions.extraBackends`. */
  extra: Record<string, ExtraBackendConfig>
}

/** One local service of a share: `PORT` or `HOST:PORT`. */
export interface ServiceConfig {
  /** @default the share's default host (127.0.0.1) */
  host?: string
  port: number
}

/**
 * `dashboard:` (top level, or per tunnel or connection): `false` serves
 * none, `true` one on a free port of 127.0.0.1, a number one on that port
 * (as `--no-dashboard`, `--dashboard`, `--dashboard PORT`).
 */
export type DashboardConfig = boolean | number

/** A named share (`tunnels.NAME`), for `beam up NAME` / `beam share --config`. */
export interface TunnelConfig {
  name: string
  /** The local services, the first being the default. */
  services: ServiceConfig[]
  /** Backends in the order they are tried. */
  backends: string[]
  /** @default 'first-success' */
  strategy: Strategy
  /** @default 'secret' ('allow' when `allow` is given) */
  access: AccessMode
  /** Peer ids allowed when `access` is `allow`. */
  allow: string[]
  /**
   * The tunnel's own identity key file (absolute; a relative path in the file
   * is taken from the file's directory), e.g. one `beam import` wrote.
   * @default unset: the identity of its backends (identity.json, or the anonymous set's)
   */
  identity?: string
  /** The tunnel's own access secret file, likewise. @default unset: the secret of its backends */
  secret?: string
  /** This tunnel's dashboard (`beam up NAME`). @default the top-level `dashboard:` */
  dashboard?: DashboardConfig
  /** The beam gateway web visitors reach the first port through (its multiaddr with /p2p/, or its peer id), as `--gateway`. @default unset (no gateway) */
  gateway?: string
  /** The short name claimed on the gateway (`NAME.<gateway domain>`). @default unset (only the peer id label) */
  gatewayName?: string
  /** Visitors sign in with these HTTP basic credentials (`user:password`), as `--http-auth`. @default unset */
  httpAuth?: string
  /** Visitors send `Authorization: Bearer <token>`, as `--http-token`. @default unset */
  httpToken?: string
  line: number
}

/** A named connection (`connect.NAME`), for `beam up NAME`. */
export interface ConnectConfig {
  name: string
  /** Connect string, peer id, name.peer-id-prefix or alias. */
  target: string
  /** Local port to listen on. @default a free port */
  localPort?: number
  /** Local address to listen on. @default 127.0.0.1 */
  host?: string
  /** Which of the share's ports. @default its first */
  remote?: number
  /** Backends in the order they are tried. */
  backends: string[]
  /** @default 'first-success' */
  strategy: Strategy
  /** This connection's dashboard (`beam up NAME`). @default the top-level `dashboard:` */
  dashboard?: DashboardConfig
  line: number
}

export interface BeamConfig {
  /** The file it was read from, as given. */
  file: string
  version: number
  backends: BackendsConfig
  tunnels: Record<string, TunnelConfig>
  connect: Record<string, ConnectConfig>
  /** The dashboard of every share, connect and up that reads this file (a tunnel's or connection's own wins). @default true: on, a free port */
  dashboard?: DashboardConfig
  /** Things that work but deserve a word (e.g. a password in a world-readable file). */
  warnings: string[]
}

export interface ParseConfigOptions {
  /**
   * Backend names besides direct, tor and i2p that the file may name (e.g.
   * every name of the backend registry). Their entries take `priority`,
   * `enabled` and a free-form `options:` map. @default []
   */
  extraBackends?: string[]
}

export interface LoadConfigOptions extends ParseConfigOptions {
  /** Aborts the read. @default none */
  signal?: AbortSignal
}

/** Lower numbers are tried first (`priority:` left out). */
export const DEFAULT_PRIORITY = 100
/** As on the command line, where `--backends a,b` uses all at once unless `--fallback`. */
export const DEFAULT_STRATEGY: Strategy = 'first-success'
/** A tunnel's or connection's name in the file. */
export const ENTRY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/
export const STRATEGIES: Strategy[] = ['fallback', 'first-success']
export const ACCESS_MODES: AccessMode[] = ['public', 'secret', 'allow']
export const TOP_KEYS = ['version', 'backends', 'tunnels', 'connect', 'dashboard']
const COMMON_BACKEND_KEYS = ['priority', 'enabled']
/** The keys each built-in backend's entry takes. */
export const BACKEND_KEYS: Record<string, string[]> = {
  direct: [...COMMON_BACKEND_KEYS, 'iceServers', 'bootstrap', 'publicStun'],
  tor: [...COMMON_BACKEND_KEYS, 'control', 'socks', 'controlPassword', 'launch', 'launchConfig', 'persistent', 'onionPort'],
  ator: [...COMMON_BACKEND_KEYS, 'control', 'socks', 'controlPassword', 'launch', 'launchConfig', 'persistent', 'anonBinary'],
  i2p: [...COMMON_BACKEND_KEYS, 'sam']
}
/** The keys of an entry for a backend the program registered. */
export const EXTRA_BACKEND_KEYS = [...COMMON_BACKEND_KEYS, 'options']
export const TUNNEL_KEYS = ['port', 'ports', 'host', 'backends', 'strategy', 'access', 'allow', 'identity', 'secret', 'dashboard', 'gateway', 'gatewayName', 'httpAuth', 'httpToken']
export const CONNECT_KEYS = ['target', 'localPort', 'host', 'remote', 'backends', 'strategy', 'dashboard']
export const ICE_KEYS = ['urls', 'username', 'credential']
