/**
 * `beam share` and `beam up NAME` for a `tunnels:` entry: the services,
 * access, listening and limits of a share, merged once from the flags or
 * the named tunnel, with the backends and node settings.
 */
import { parsePeerId, SHARE_NAME_RE } from '../../peer/index.ts'
import type { Logger } from '../../peer/index.ts'
import { UsageError } from '../exit-codes.ts'
import { parseListen } from '../context.ts'
import type { CommonFlags } from '../context.ts'
import { numberServices, parseCount, parseService } from '../parse.ts'
import type { BackendFlags } from '../backend-flags.ts'
import type { SecretInputIo } from '../secret-input.ts'
import type { BeamConfig, TunnelConfig } from '../config/index.ts'
import { dashboardSetting } from '../dashboard/open.ts'
import type { DashboardSetting } from '../dashboard/open.ts'
import { backendSetup } from './backends.ts'
import type { BackendSetup } from './backends.ts'
import { nodeSettings } from './node.ts'
import type { NodeSettings } from './node.ts'

export interface ShareFlags extends CommonFlags, BackendFlags {
  config?: string
  public?: boolean
  allow?: string[]
  rotateSecret?: boolean
  listen?: string[] | false
  announce?: string[]
  relay?: boolean
  name?: string[]
  maxTunnels?: string
  maxTunnelsPerPeer?: string
  /** `--dashboard [port]` (true or a port), `--no-dashboard` (false). */
  dashboard?: boolean | string
  /** `--gateway`: the beam gateway to serve web visitors through. */
  gateway?: string
  /** `--http`: the same, with the gateway from BEAM_GATEWAY. */
  http?: boolean
  httpAuth?: string
  httpToken?: string
  qr?: boolean
}

/** What a share runs with. */
export interface ShareSettings {
  /** The local services, the first being the default; `path` for a unix socket (offered under `port`). */
  services: Array<{ host?: string, port: number, path?: string, udp?: true }>
  /** `public`, an allow-list of peer ids, or holders of the access secret. */
  access: { mode: 'public' } | { mode: 'allow', peers: string[] } | { mode: 'secret', rotate: boolean }
  /** Listen addresses given (`--listen`). @default none given: DEFAULT_SHARE_LISTEN */
  listen?: string[]
  /** `--no-listen`: open no listener. @default false */
  noListen: boolean
  /** Addresses to announce instead of the listening ones. @default none given */
  announce?: string[]
  /** Reserve slots on relays. @default true */
  relay: boolean
  /** Names published in the DHT. @default [] */
  names: string[]
  limits: { maxTunnels?: number, maxTunnelsPerPeer?: number }
  backends: BackendSetup
  node: NodeSettings
  /** The access secret's file, when the named tunnel has its own (`secret:`). @default unset: the backends' own */
  secretFile?: string
  /** The dashboard: `--dashboard`/`--no-dashboard`, else the tunnel's `dashboard:`, else the file's. @default on, a free port */
  dashboard: DashboardSetting
}

/** A share name: what `<name>.<peer-id prefix>` resolves. */
function parseName (text: string): string {
  if (!SHARE_NAME_RE.test(text)) throw new UsageError(`invalid --name '${text}': use 1-63 of a-z, 0-9 and '-' (not at either end)`)
  return text
}

/** Where a share's services and access come from: the command line, or a named tunnel of the file. */
export type ShareSource = { ports: string[] } | { tunnel: TunnelConfig }

/** The share's flags, the named tunnel (if any) and the config file merged into settings. Throws UsageError and the parsers' errors. */
export async function shareSettings (source: ShareSource, flags: ShareFlags, io: SecretInputIo, log: Logger, config?: BeamConfig): Promise<ShareSettings> {
  const tunnel = 'tunnel' in source ? source.tunnel : undefined
  const services = tunnel != null ? tunnel.services.map(s => ({ ...s })) : 'ports' in source ? numberServices(source.ports.map(parseService)) : []
  const isPublic = tunnel != null ? tunnel.access === 'public' : flags.public === true
  const allowGiven = tunnel != null ? (tunnel.access === 'allow' ? tunnel.allow : undefined) : flags.allow
  if (isPublic && allowGiven != null) throw new UsageError('--public and --allow exclude each other')
  const allow = (allowGiven ?? []).map(p => parsePeerId(p).toString())
  const access: ShareSettings['access'] = isPublic ? { mode: 'public' } : allow.length > 0 ? { mode: 'allow', peers: allow } : { mode: 'secret', rotate: flags.rotateSecret === true }
  const choice = tunnel != null ? { names: tunnel.backends, fallback: tunnel.strategy === 'fallback' && tunnel.backends.length > 1 } : undefined
  const backends = await backendSetup(flags, { ...(config != null ? { file: config.backends } : {}), ...(choice != null ? { choice } : {}), role: 'share' })
  const listen = Array.isArray(flags.listen) ? parseListen(flags.listen) : undefined
  const names = (flags.name ?? []).map(n => parseName(n))
  const limits: ShareSettings['limits'] = {}
  if (flags.maxTunnels != null) limits.maxTunnels = parseCount(flags.maxTunnels, '--max-tunnels')
  if (flags.maxTunnelsPerPeer != null) limits.maxTunnelsPerPeer = parseCount(flags.maxTunnelsPerPeer, '--max-tunnels-per-peer')
  const settings: ShareSettings = {
    services,
    access,
    noListen: flags.listen === false,
    relay: flags.relay !== false,
    names,
    limits,
    backends,
    // the file's direct entry applies only where direct is used
    node: await nodeSettings(flags, io, log, backends.names.includes('direct') ? config?.backends.direct : undefined),
    dashboard: dashboardSetting(flags.dashboard, tunnel?.dashboard ?? config?.dashboard)
  }
  if (listen != null) settings.listen = listen
  if (flags.announce != null) settings.announce = flags.announce
  // a tunnel with its own key files (one `beam import` wrote): they win over the backends' own, a flag over them
  if (tunnel?.identity != null && flags.identity == null && io.env.BEAM_IDENTITY == null && flags.ephemeral !== true) settings.node.identity = { file: tunnel.identity }
  if (tunnel?.secret != null) settings.secretFile = tunnel.secret
  return settings
}
