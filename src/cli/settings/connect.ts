/**
 * `beam connect` and `beam up NAME` for a `connect:` entry: the local
 * listener, the share's port and the time allowed, merged once from the
 * flags or the named connection, with the backends and node settings.
 */
import type { Logger } from '../../peer/index.ts'
import { parseListen } from '../context.ts'
import type { CommonFlags } from '../context.ts'
import { parseMillis, parsePort, parsePortProtocol, parseUnixAddress } from '../parse.ts'
import { UsageError } from '../exit-codes.ts'
import type { BackendFlags } from '../backend-flags.ts'
import type { SecretInputIo } from '../secret-input.ts'
import type { BeamConfig, ConnectConfig } from '../config/index.ts'
import { dashboardSetting } from '../dashboard/open.ts'
import type { DashboardSetting } from '../dashboard/open.ts'
import { backendSetup } from './backends.ts'
import type { BackendSetup } from './backends.ts'
import { nodeSettings } from './node.ts'
import type { NodeSettings } from './node.ts'

export interface ConnectFlags extends CommonFlags, BackendFlags {
  config?: string
  connectFile?: string
  port?: string
  host?: string
  remote?: string
  timeout?: string
  listen?: string[]
  /** `--dashboard [port]` (true or a port), `--no-dashboard` (false). */
  dashboard?: boolean | string
  stdio?: boolean
  udpIdleTimeout?: string
}

/** Default of --timeout, in ms. */
export const DEFAULT_TIMEOUT = 30_000
/** Default of --timeout when i2p is selected: ~20 s of SAM session, then waiting for a fresh share's lease set. */
export const I2P_TIMEOUT = 150_000

/** What a connection runs with. */
export interface ConnectSettings {
  /** Local port to listen on; 0 picks a free one. @default 0 */
  localPort: number
  /** Local address to listen on. @default 127.0.0.1 */
  host: string
  /** A unix socket to listen on instead of a TCP port (`--listen unix:PATH`). @default unset */
  socketPath?: string
  /** Carry one tunnel on standard input and output, bind nothing (`--stdio`). @default false */
  stdio: boolean
  /** The remote port is a UDP service (`--remote PORT/udp`): a local UDP port is bound. @default false */
  udp: boolean
  /** A UDP source's tunnel closes after this many ms without traffic (`--udp-idle-timeout`). @default the library's, 60000 */
  udpIdleTimeout?: number
  /** Which of the share's ports; 0 is its first. @default 0 */
  remotePort: number
  /** Reaching the peer, in ms. @default DEFAULT_TIMEOUT, I2P_TIMEOUT with i2p */
  timeout: number
  /** libp2p listen addresses. @default [] */
  listen: string[]
  /** Whether `--listen` was given (an anonymous-only connect refuses it). */
  listenGiven: boolean
  backends: BackendSetup
  node: NodeSettings
  /** An anonymous-only connect without a key file given runs with a throwaway key. */
  throwaway: boolean
  /** The dashboard: `--dashboard`/`--no-dashboard`, else the connection's `dashboard:`, else the file's. @default on, a free port */
  dashboard: DashboardSetting
}

/** The connect flags, the named connection (if any) and the config file merged into settings. */
export async function connectSettings (flags: ConnectFlags, io: SecretInputIo, log: Logger, config?: BeamConfig, entry?: ConnectConfig): Promise<ConnectSettings> {
  const localPort = entry?.localPort ?? (flags.port != null ? parsePort(flags.port, 'local port', true) : 0)
  const remote = flags.remote != null && entry?.remote == null ? parsePortProtocol(flags.remote, 'remote port') : undefined
  const remotePort = entry?.remote ?? remote?.port ?? 0
  const udp = remote?.udp === true
  // --listen takes libp2p addresses, and one unix:PATH for the local socket
  const unixPaths = (flags.listen ?? []).flatMap(l => { const p = parseUnixAddress(l, '--listen'); return p != null ? [p] : [] })
  const listen = parseListen((flags.listen ?? []).filter(l => !l.startsWith('unix:')))
  if (unixPaths.length > 1) throw new UsageError('--listen unix:PATH may be given once')
  const socketPath = unixPaths[0]
  const stdio = flags.stdio === true
  if (stdio) {
    const clash = [flags.port != null && '--port', flags.host != null && '--host', socketPath != null && '--listen unix:', flags.json === true && '--json'].filter(f => f !== false)
    if (clash.length > 0) throw new UsageError(`--stdio carries the tunnel on standard input and output: drop ${clash.join(', ')}`)
  }
  if (socketPath != null && (flags.port != null || flags.host != null)) throw new UsageError('--listen unix:PATH replaces the local port: drop --port/--host')
  if (flags.udpIdleTimeout != null && !udp) throw new UsageError('--udp-idle-timeout applies to a UDP service: give --remote PORT/udp')
  const udpIdleTimeout = flags.udpIdleTimeout != null ? parseMillis(flags.udpIdleTimeout, '--udp-idle-timeout') : undefined
  if (udp && (stdio || socketPath != null)) throw new UsageError(`--remote ${flags.remote ?? ''} is a UDP service: it is reached through a local UDP port, not ${stdio ? '--stdio' : '--listen unix:'}`)
  const choice = entry != null ? { names: entry.backends, fallback: entry.strategy === 'fallback' && entry.backends.length > 1 } : undefined
  const backends = await backendSetup(flags, { ...(config != null ? { file: config.backends } : {}), ...(choice != null ? { choice } : {}), role: 'connect' })
  const timeout = flags.timeout != null ? parseMillis(flags.timeout, 'timeout') : backends.names.includes('i2p') ? I2P_TIMEOUT : DEFAULT_TIMEOUT
  // the file's direct entry applies only where direct is used
  const node = await nodeSettings(flags, io, log, backends.names.includes('direct') ? config?.backends.direct : undefined)
  // anonymous-only: do not link this connect to earlier ones by a stable peer id (and do not even create identity.json)
  const throwaway = !backends.names.includes('direct') && flags.identity == null && io.env.BEAM_IDENTITY == null
  if (throwaway) node.identity = { ephemeral: true }
  return {
    localPort,
    host: entry?.host ?? flags.host ?? '127.0.0.1',
    ...(socketPath != null ? { socketPath } : {}),
    stdio,
    remotePort,
    udp,
    ...(udpIdleTimeout != null ? { udpIdleTimeout } : {}),
    timeout,
    listen,
    listenGiven: listen.length > 0,
    backends,
    node,
    throwaway,
    dashboard: dashboardSetting(flags.dashboard, entry?.dashboard ?? config?.dashboard)
  }
}
