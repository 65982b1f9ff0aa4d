/**
 * Which networks a node uses and how each is reached, merged once from the
 * flags (commander has already put `BEAM_TOR_CONTROL` and the other
 * variables in them; secret-input.ts the password files and variables) and
 * the config file's `backends:` section, then turned into Backend objects.
 *
 * Precedence, for each value: a flag (or its variable) wins; the file fills
 * only what the command line left unset, and only for the backends that are
 * used. Every check below runs in the order the CLI always ran them, so a
 * command line with several problems reports the same one first.
 */
import { isIP } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BackendUnavailableError, defaultBackends, directBackend, generateClientAuthKeys, parseClientAuthPrivateKey, parseClientAuthPublicKey } from '../../backends/index.ts'
import type { AtorBackendOptions, Backend, I2pBackendOptions, TorBackendOptions } from '../../backends/index.ts'
import { UsageError, availabilityLine } from '../exit-codes.ts'
import { anonCandidates, backendNames, hostPortText, parseHostPort, parseI2pHops } from '../backend-flags.ts'
import type { BackendFlags } from '../backend-flags.ts'
import { backendOrder } from '../config/index.ts'
import type { BackendsConfig, HostPort } from '../config/index.ts'

/** The Tor daemon (or beam's own tor) and a share's onion service. */
export interface TorSettings {
  /** @default 127.0.0.1:9051 (the backend's) */
  control?: HostPort
  /** @default 127.0.0.1:9050 (the backend's) */
  socks?: HostPort
  /** @default none: no auth or cookie auth, as tor offers */
  password?: string
  /** Start beam's own tor. @default false */
  launch: boolean
  /** Extra torrc lines for `launch`, read from `--tor-launch-config`. @default none */
  extraTorrc?: string
  /** Keep the onion key in `$BEAM_HOME/tor/onion-key`. @default false */
  persistent: boolean
  /** @default 4001 (the backend's) */
  onionPort?: number
  /** Client-authorization public keys of the onion. @default none */
  clientAuth?: string[]
  /** Private keys made for `--tor-client-auth new`, to hand to connectors. */
  newClientKeys: string[]
  /** A connector's client-authorization private key. @default none */
  clientKey?: string
}

/** ATOR's anon daemon: Tor's settings but the onion port and client auth, plus where anon is. */
export interface AtorSettings extends Omit<TorSettings, 'onionPort' | 'clientAuth' | 'newClientKeys' | 'clientKey'> {
  /** @default PATH, the usual prefixes, scripts/install-ator.sh's folder */
  anonBinary?: string
}

/** The I2P router's SAM bridge and the destination. */
export interface I2pSettings {
  /** @default 127.0.0.1:7656 (the backend's) */
  sam?: HostPort
  /** Keep the destination key in `$BEAM_HOME/i2p/destination.key`. @default false */
  persistent: boolean
  /** @default 3,3 (the backend's) */
  hops?: { inboundLength: number, outboundLength: number }
}

/** The networks, in order, and each one's settings. */
export interface BackendSetup {
  names: string[]
  /** One network after the other instead of all at once. @default false */
  fallback: boolean
  tor: TorSettings
  ator: AtorSettings
  i2p: I2pSettings
}

/** What {@link backendSetup} needs besides the flags. */
export interface BackendSetupOptions {
  /** The config file's `backends:` section. @default none */
  file?: BackendsConfig
  /**
   * The networks a named tunnel or connection lists (`beam up NAME`), which
   * replace the flags' choice. @default the flags', else the file's order
   */
  choice?: { names: string[], fallback: boolean }
  /** A share takes the file's `persistent` and `onionPort` too. @default 'connect' */
  role?: 'share' | 'connect'
}

/** A host:port from the file, held to the flag's rule: an IP address, no name. */
function fileHostPort (hp: HostPort | undefined, flag: string): HostPort | undefined {
  if (hp != null && isIP(hp.host) === 0) throw new UsageError(`invalid ${flag} '${hostPortText(hp)}': give an IP address, not a name (beam resolves no names for Tor or I2P)`)
  return hp
}

function hostPortOf (text: string | undefined, file: HostPort | undefined, flag: string): HostPort | undefined {
  return text != null ? parseHostPort(text, flag) : fileHostPort(file, flag)
}

async function readLaunchConfig (file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** The flags and the file's backends section merged into typed settings. Throws UsageError. */
export async function backendSetup (flags: BackendFlags, options: BackendSetupOptions = {}): Promise<BackendSetup> {
  const chosen = flags.backend != null || flags.backends != null || flags.tor === true || flags.ator === true || flags.i2p === true
  const order = options.file != null ? backendOrder(options.file) : []
  const names = options.choice?.names ?? (!chosen && order.length > 0 ? order : backendNames(flags))
  const fallback = options.choice?.fallback ?? flags.fallback === true
  if (fallback && names.length < 2) throw new UsageError('--fallback needs two or more networks in --backends')
  // the file's settings of a backend apply only where that backend is used
  const share = options.role === 'share'
  const fTor = names.includes('tor') ? options.file?.tor : undefined
  const fAtor = names.includes('ator') ? options.file?.ator : undefined
  const fI2p = names.includes('i2p') ? options.file?.i2p : undefined

  const onionPort = flags.onionPort ?? (share ? fTor?.onionPort : undefined)
  const torGiven = { control: flags.torControl, socks: flags.torSocks, password: flags.torPassword, launch: flags.torLaunch, launchConfig: flags.torLaunchConfig, persistent: flags.torPersistent }
  const torMerged = mergeDaemon(torGiven, fTor, { share, names, backend: 'tor', daemon: 'tor', more: [onionPort, flags.torClientAuth, flags.torClientKey].some(v => v != null) })

  const ator = await atorSetup(flags, names, fAtor, share)

  const i2pGiven = flags.i2pSam != null || flags.i2pHops != null || flags.i2pPersistent === true
  if (i2pGiven && !names.includes('i2p')) throw new UsageError('--i2p-* options need the i2p backend (--i2p or --backend i2p)')
  const i2p: I2pSettings = { persistent: flags.i2pPersistent === true }
  const sam = hostPortOf(flags.i2pSam, fI2p?.sam, '--i2p-sam')
  if (sam != null) i2p.sam = sam
  if (flags.i2pHops != null) i2p.hops = parseI2pHops(flags.i2pHops)

  const tor: TorSettings = { ...daemonSettings(torGiven, torMerged, 'tor'), newClientKeys: [] }
  if (typeof onionPort === 'string') {
    const p = Number(onionPort)
    if (!/^\d{1,5}$/.test(onionPort) || p < 1 || p > 65535) throw new UsageError(`invalid --onion-port '${onionPort}': expected a number from 1 to 65535`)
    tor.onionPort = p
  } else if (onionPort != null) {
    tor.onionPort = onionPort
  }
  if (flags.torClientAuth != null) {
    tor.clientAuth = flags.torClientAuth.map(k => {
      if (k !== 'new') return parseClientAuthPublicKey(k)
      const pair = generateClientAuthKeys()
      tor.newClientKeys.push(pair.privateKey)
      return pair.publicKey
    })
  }
  if (flags.torClientKey != null) tor.clientKey = parseClientAuthPrivateKey(flags.torClientKey)
  if (torMerged.launch && torMerged.launchConfig != null) tor.extraTorrc = await readLaunchConfig(torMerged.launchConfig, '--tor-launch-config')
  return { names, fallback, tor, ator, i2p }
}

/** The flags of one daemon (tor or anon) as given, before the file fills them. */
interface DaemonFlags {
  control?: string
  socks?: string
  password?: string
  launch?: boolean
  launchConfig?: string
  persistent?: boolean
}

/** A daemon's flags and its file entry merged, still unparsed; the file's ports only for a running daemon. */
interface MergedDaemon {
  launch: boolean
  launchConfig?: string
  password?: string
  persistent: boolean
  fileControl?: HostPort
  fileSocks?: HostPort
}

/**
 * One daemon's flags with its file entry (given only when its backend is
 * used), and the checks every daemon's flags get: used only with its
 * backend, `--X-launch-config` only with `--X-launch`, a launched daemon
 * takes no ports or password. `more`: the backend's other flags were given.
 */
function mergeDaemon (flags: DaemonFlags, file: BackendsConfig['tor'] | undefined, o: { share: boolean, names: string[], backend: 'tor' | 'ator', daemon: string, more?: boolean }): MergedDaemon {
  const x = `--${o.backend}`
  // a launched daemon has its own ports: the file's control and socks are for a running one
  const fileControl = file?.launch !== true ? file?.control : undefined
  const fileSocks = file?.launch !== true ? file?.socks : undefined
  const m: MergedDaemon = {
    launch: flags.launch === true || file?.launch === true,
    persistent: flags.persistent === true || (o.share && file?.persistent === true)
  }
  const launchConfig = flags.launchConfig ?? file?.launchConfig
  const password = flags.password ?? file?.controlPassword
  const control = flags.control ?? fileControl
  const socks = flags.socks ?? fileSocks
  const given = [control, socks, password, launchConfig].some(v => v != null) || o.more === true || m.launch || m.persistent
  if (given && !o.names.includes(o.backend)) throw new UsageError(`${x}-* options need the ${o.backend} backend (${x} or --backend ${o.backend})`)
  if (launchConfig != null && !m.launch) throw new UsageError(`${x}-launch-config needs ${x}-launch`)
  if (m.launch && (control != null || socks != null || password != null)) throw new UsageError(`${x}-launch starts its own ${o.daemon}: it takes no ${x}-control, ${x}-socks or ${x}-password`)
  if (launchConfig != null) m.launchConfig = launchConfig
  if (password != null) m.password = password
  if (fileControl != null) m.fileControl = fileControl
  if (fileSocks != null) m.fileSocks = fileSocks
  return m
}

/** A merged daemon's ports parsed (flag text) or checked (file values), with the flag's name in messages. */
function daemonSettings (flags: DaemonFlags, m: MergedDaemon, backend: 'tor' | 'ator'): Omit<AtorSettings, 'anonBinary'> {
  const out: Omit<AtorSettings, 'anonBinary'> = { launch: m.launch, persistent: m.persistent }
  const control = hostPortOf(flags.control, m.fileControl, `--${backend}-control`)
  if (control != null) out.control = control
  const socks = hostPortOf(flags.socks, m.fileSocks, `--${backend}-socks`)
  if (socks != null) out.socks = socks
  if (m.password != null) out.password = m.password
  return out
}

/** The `--ator-*` flags and the file's `ator:` entry (when ATOR is used), checked against the selected networks. */
async function atorSetup (flags: BackendFlags, names: string[], file: BackendsConfig['ator'], share: boolean): Promise<AtorSettings> {
  const given = { control: flags.atorControl, socks: flags.atorSocks, password: flags.atorPassword, launch: flags.atorLaunch, launchConfig: flags.atorLaunchConfig, persistent: flags.atorPersistent }
  const merged = mergeDaemon(given, file, { share, names, backend: 'ator', daemon: 'anon' })
  const ator: AtorSettings = daemonSettings(given, merged, 'ator')
  const anonBinary = flags.anonBinary ?? file?.anonBinary
  if (anonBinary != null) ator.anonBinary = anonBinary
  if (merged.launch && merged.launchConfig != null) ator.extraTorrc = await readLaunchConfig(merged.launchConfig, '--ator-launch-config')
  return ator
}

/** The backends the settings select, in order, and whether the selection is anonymous-only. */
export interface SelectedBackends {
  backends: Backend[]
  names: string[]
  /** No `direct`: Tor-only, I2P-only (or another anonymous-only) mode. */
  anonymousOnly: boolean
  fallback: boolean
  /** Private keys made for `--tor-client-auth new`, to hand to connectors. */
  newClientKeys: string[]
}

/** How long `beam connect` retries a destination its router cannot find yet (CANT_REACH_PEER), in ms. */
const I2P_REACH_RETRY = 120_000

/** What {@link createBackends} needs besides the settings. */
export interface CreateBackendsOptions {
  /** beam's home directory: key files and launched daemons' data live under it. */
  home: string
  /** The process a launched tor or anon stops with. */
  ownerPid: number
  /** Where anon is looked for (PATH, XDG_CACHE_HOME, HOME). @default process.env */
  env?: Record<string, string | undefined>
}

/** The settings as Backend objects. Throws UsageError or BackendUnavailableError. */
export async function createBackends (setup: BackendSetup, options: CreateBackendsOptions): Promise<SelectedBackends> {
  const { home, ownerPid } = options
  const tor: TorBackendOptions = {}
  if (setup.tor.control != null) { tor.controlHost = setup.tor.control.host; tor.controlPort = setup.tor.control.port }
  if (setup.tor.socks != null) { tor.socksHost = setup.tor.socks.host; tor.socksPort = setup.tor.socks.port }
  if (setup.tor.password != null) tor.controlPassword = setup.tor.password
  if (setup.tor.persistent) tor.keyFile = join(home, 'tor', 'onion-key')
  if (setup.tor.onionPort != null) tor.virtualPort = setup.tor.onionPort
  if (setup.tor.clientAuth != null) tor.clientAuth = setup.tor.clientAuth
  if (setup.tor.clientKey != null) tor.clientAuthKey = setup.tor.clientKey
  if (setup.tor.launch) tor.launch = { dataDir: join(home, 'tor', 'launched'), ownerPid, ...(setup.tor.extraTorrc != null ? { extraTorrc: setup.tor.extraTorrc } : {}) }

  const ator: AtorBackendOptions = { anonBinaries: anonCandidates(setup.ator.anonBinary, options.env ?? process.env) }
  if (setup.ator.control != null) { ator.controlHost = setup.ator.control.host; ator.controlPort = setup.ator.control.port }
  if (setup.ator.socks != null) { ator.socksHost = setup.ator.socks.host; ator.socksPort = setup.ator.socks.port }
  if (setup.ator.password != null) ator.controlPassword = setup.ator.password
  if (setup.ator.persistent) ator.keyFile = join(home, 'ator', 'onion-key')
  if (setup.ator.launch) ator.launch = { dataDir: join(home, 'ator', 'launched'), ownerPid, ...(setup.ator.extraTorrc != null ? { extraTorrc: setup.ator.extraTorrc } : {}) }

  // keep retrying a fresh share's unpublished lease set for as long as one address dial may take (node.ts)
  const i2p: I2pBackendOptions = { reachRetryMs: I2P_REACH_RETRY }
  if (setup.i2p.sam != null) i2p.sam = hostPortText(setup.i2p.sam)
  if (setup.i2p.persistent) i2p.keyFile = join(home, 'i2p', 'destination.key')
  if (setup.i2p.hops != null) i2p.tunnels = setup.i2p.hops

  const registry = defaultBackends({ tor, ator, i2p })
  const backends: Backend[] = []
  for (const name of setup.names) {
    let b: Backend
    try {
      b = registry.get(name)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    if (b.name !== directBackend.name && b.transport == null) {
      const a = await b.available()
      throw new BackendUnavailableError(`backend '${name}' cannot be used: ${availabilityLine(name, a)}`)
    }
    backends.push(b)
  }
  return { backends, names: setup.names, anonymousOnly: !setup.names.includes('direct'), fallback: setup.fallback, newClientKeys: setup.tor.newClientKeys }
}

/** The backend flags alone (no config file) as Backend objects. */
export async function resolveBackends (flags: BackendFlags, home: string, ownerPid: number, env: Record<string, string | undefined> = process.env): Promise<SelectedBackends> {
  return await createBackends(await backendSetup(flags), { home, ownerPid, env })
}
