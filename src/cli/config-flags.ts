/**
 * beam.config.yaml on the command line: which file (`--config FILE`, else
 * `$BEAM_HOME/beam.config.yaml`), and how its settings become the flags of
 * `beam share` / `beam connect` / `beam up`. Flags given on the command line
 * always win over the file; the file only fills what they leave unset.
 */
import { defaultBackends } from '../backends/index.ts'
import { backendOrder, findConfigFile, loadConfig } from './config/index.ts'
import type { BeamConfig, ConnectConfig, IceServerConfig, TunnelConfig } from './config/index.ts'
import { Option } from 'commander'
import type { Command } from 'commander'
import type { BackendFlags } from './backend-flags.ts'
import type { CommonFlags } from './context.ts'

/** The flags that the config file can fill. */
export interface ConfigurableFlags extends CommonFlags, BackendFlags {
  config?: string
}

/** `--config FILE` (env BEAM_CONFIG). */
export function addConfigOption (cmd: Command): Command {
  return cmd.addOption(new Option('--config <file>', 'beam.config.yaml to read (default: $BEAM_HOME/beam.config.yaml if it exists)').env('BEAM_CONFIG'))
}

/** Read the config file the flags and home point at; undefined when there is none. */
export async function loadCliConfig (flags: { config?: string }, home: string, signal?: AbortSignal): Promise<BeamConfig | undefined> {
  const found = findConfigFile({ ...(flags.config != null ? { flag: flags.config } : {}), home })
  if (found == null) return undefined
  return await loadConfig(found.path, {
    extraBackends: defaultBackends().list().map(b => b.name),
    ...(signal != null ? { signal } : {})
  })
}

/** `turn:user:pass@host:port` as the --ice-server flag takes it. */
function iceServerFlag (s: IceServerConfig): string[] {
  return s.urls.map(url => {
    if (s.username == null) return url
    const m = /^(turns?):(.*)$/.exec(url)
    if (m == null) return url
    return `${m[1] ?? 'turn'}:${encodeURIComponent(s.username)}:${encodeURIComponent(s.credential ?? '')}@${m[2] ?? ''}`
  })
}

/** The backend names the flags select (as resolveBackends reads them). */
function usedBackends (flags: BackendFlags): string[] {
  if (flags.tor === true) return ['tor']
  if (flags.ator === true) return ['ator']
  if (flags.i2p === true) return ['i2p']
  if (flags.backend != null) return [flags.backend.trim()]
  return (flags.backends ?? 'direct').split(',').map(n => n.trim())
}

const hostPort = (hp: { host: string, port: number }): string => hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`

/**
 * The flags with what the config file says filled in where the command line
 * said nothing. `backends` is the tunnel's or connection's own list when it
 * has one, else the file's enabled backends by priority.
 */
export function applyConfig<F extends ConfigurableFlags> (flags: F, config: BeamConfig, backends?: string[]): F {
  const out: F = { ...flags }
  const chosen = flags.backend != null || flags.backends != null || flags.tor === true || flags.ator === true || flags.i2p === true
  const order = backends != null && backends.length > 0 ? backends : backendOrder(config.backends)
  if (!chosen && order.length > 0) out.backends = order.join(',')
  // the file's settings of a backend apply only where that backend is used
  const used = usedBackends(out)
  const tor = used.includes('tor') ? config.backends.tor : undefined
  if (tor != null) {
    if (out.torControl == null && tor.control != null && tor.launch !== true) out.torControl = hostPort(tor.control)
    if (out.torSocks == null && tor.socks != null && tor.launch !== true) out.torSocks = hostPort(tor.socks)
    if (out.torPassword == null && tor.controlPassword != null) out.torPassword = tor.controlPassword
    if (out.torLaunch == null && tor.launch === true) out.torLaunch = true
    if (out.torLaunchConfig == null && tor.launchConfig != null) out.torLaunchConfig = tor.launchConfig
  }
  const ator = used.includes('ator') ? config.backends.ator : undefined
  if (ator != null) {
    if (out.atorControl == null && ator.control != null && ator.launch !== true) out.atorControl = hostPort(ator.control)
    if (out.atorSocks == null && ator.socks != null && ator.launch !== true) out.atorSocks = hostPort(ator.socks)
    if (out.atorPassword == null && ator.controlPassword != null) out.atorPassword = ator.controlPassword
    if (out.atorLaunch == null && ator.launch === true) out.atorLaunch = true
    if (out.atorLaunchConfig == null && ator.launchConfig != null) out.atorLaunchConfig = ator.launchConfig
    if (out.anonBinary == null && ator.anonBinary != null) out.anonBinary = ator.anonBinary
  }
  const i2p = used.includes('i2p') ? config.backends.i2p : undefined
  if (i2p != null && out.i2pSam == null && i2p.sam != null) out.i2pSam = hostPort(i2p.sam)
  const direct = used.includes('direct') ? config.backends.direct : undefined
  if (direct != null) {
    if (out.iceServer == null && out.iceServerFile == null && direct.iceServers != null) out.iceServer = direct.iceServers.flatMap(iceServerFlag)
    if (out.bootstrap == null && direct.bootstrap != null) out.bootstrap = [...direct.bootstrap]
  }
  return out
}

/** Share-only settings of the tor entry (the connect command has no such flags). */
export function applyShareConfig<F extends ConfigurableFlags> (flags: F, config: BeamConfig): F {
  const out: F = { ...flags }
  const used = usedBackends(out)
  const tor = used.includes('tor') ? config.backends.tor : undefined
  if (tor != null) {
    if (out.torPersistent == null && tor.persistent === true) out.torPersistent = true
    if (out.onionPort == null && tor.onionPort != null) out.onionPort = String(tor.onionPort)
  }
  const ator = used.includes('ator') ? config.backends.ator : undefined
  if (ator != null && out.atorPersistent == null && ator.persistent === true) out.atorPersistent = true
  return out
}

/** What `beam up NAME` passes to `beam share` for a named tunnel. */
export function tunnelArgs (t: TunnelConfig): { ports: string[], flags: { public?: boolean, allow?: string[], fallback?: boolean, backends: string } } {
  const ports = t.services.map(s => s.host != null ? hostPort({ host: s.host, port: s.port }) : String(s.port))
  const flags: { public?: boolean, allow?: string[], fallback?: boolean, backends: string } = { backends: t.backends.join(',') }
  if (t.access === 'public') flags.public = true
  if (t.access === 'allow') flags.allow = [...t.allow]
  if (t.strategy === 'fallback' && t.backends.length > 1) flags.fallback = true
  return { ports, flags }
}

/** What `beam up NAME` passes to `beam connect` for a named connection. */
export function connectArgs (c: ConnectConfig): { target: string, flags: { port?: string, host?: string, remote?: string, fallback?: boolean, backends: string } } {
  const flags: { port?: string, host?: string, remote?: string, fallback?: boolean, backends: string } = { backends: c.backends.join(',') }
  if (c.localPort != null) flags.port = String(c.localPort)
  if (c.host != null) flags.host = c.host
  if (c.remote != null) flags.remote = String(c.remote)
  if (c.strategy === 'fallback' && c.backends.length > 1) flags.fallback = true
  return { target: c.target, flags }
}
