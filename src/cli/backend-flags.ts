/**
 * The backend flags of `beam share` and `beam connect`: which networks
 * (`--backend tor`, `--backends tor,direct`, `--tor`), in which order
 * (`--fallback`), and the Tor daemon's ports and credentials; the same for
 * ATOR's anon daemon (`--ator`, `--ator-control`, …); and the I2P router's
 * SAM bridge (`--i2p`, `--i2p-sam`, `--i2p-persistent`, `--i2p-hops`).
 */
import { isIP } from 'node:net'
import { readFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { ANON_CANDIDATES, BackendUnavailableError, defaultBackends, directBackend, generateClientAuthKeys, parseClientAuthPrivateKey, parseClientAuthPublicKey } from '../backends/index.ts'
import type { AtorBackendOptions, Backend, I2pBackendOptions, TorBackendOptions } from '../backends/index.ts'
import { UsageError } from './exit-codes.ts'
import { collect, splitList } from './parse.ts'

export interface BackendFlags {
  backend?: string
  backends?: string
  fallback?: boolean
  tor?: boolean
  torControl?: string
  torSocks?: string
  torPassword?: string
  torPasswordFile?: string
  torLaunch?: boolean
  torLaunchConfig?: string
  torPersistent?: boolean
  onionPort?: string
  torClientAuth?: string[]
  torClientKey?: string
  i2p?: boolean
  i2pSam?: string
  i2pPersistent?: boolean
  i2pHops?: string
  ator?: boolean
  atorControl?: string
  atorSocks?: string
  atorPassword?: string
  atorPasswordFile?: string
  atorLaunch?: boolean
  atorLaunchConfig?: string
  atorPersistent?: boolean
  anonBinary?: string
}

/**
 * Where the CLI looks for ATOR's anon binary: `--anon-binary` alone when
 * given; else every PATH folder, the usual prefixes, and the folder
 * scripts/install-ator.sh fills (`$XDG_CACHE_HOME/beam/ator-1.1.3`).
 */
export function anonCandidates (anonBinary: string | undefined, env: Record<string, string | undefined>): string[] {
  if (anonBinary != null) return [anonBinary]
  const fromPath = (env.PATH ?? '').split(delimiter).filter(d => d !== '').map(d => join(d, 'anon'))
  const cache = env.XDG_CACHE_HOME ?? (env.HOME != null ? join(env.HOME, '.cache') : undefined)
  const installed = cache != null ? [join(cache, 'beam', 'ator-1.1.3', 'anon')] : []
  return [...new Set([...fromPath, ...ANON_CANDIDATES, ...installed])]
}

/** The flags that choose networks: --backend, --backends, --tor, --ator, --i2p. */
export function addBackendSetOptions (cmd: Command): Command {
  return cmd
    .option('--backend <name>', 'network to use: direct (default), tor, ator, i2p (beam backends lists them)')
    .option('--backends <list>', 'several networks, comma-separated, e.g. tor,direct')
    .option('--tor', 'short for --backend tor')
    .option('--ator', 'short for --backend ator (ATOR, the Anyone Protocol\'s anon daemon)')
    .option('--i2p', 'short for --backend i2p')
}

/** The network names the flags choose, in order (default: direct). Throws UsageError on a conflict, an empty list or a repeat. */
export function backendNames (flags: Pick<BackendFlags, 'backend' | 'backends' | 'tor' | 'ator' | 'i2p'>): string[] {
  const given = [flags.backend != null, flags.backends != null, flags.tor === true, flags.ator === true, flags.i2p === true].filter(Boolean).length
  if (given > 1) throw new UsageError('give one of --backend, --backends, --tor, --ator and --i2p')
  const names = flags.tor === true ? ['tor'] : flags.ator === true ? ['ator'] : flags.i2p === true ? ['i2p'] : flags.backend != null ? [flags.backend.trim()] : flags.backends != null ? splitList(flags.backends) : ['direct']
  if (names.length === 0) throw new UsageError('--backends: empty list')
  if (new Set(names).size !== names.length) throw new UsageError(`--backends '${names.join(',')}': a network is listed twice`)
  return names
}

export function addBackendOptions (cmd: Command, role: 'share' | 'connect'): Command {
  addBackendSetOptions(cmd)
  cmd.option('--fallback', role === 'connect'
    ? 'with --backends: try the networks one after another, in the order given (default: all at once)'
    : 'with --backends: share over the first network of the list that is available (default: all of them)')
  if (role === 'connect') {
    cmd
      .addOption(new Option('--tor-client-key <private-key>', 'client-authorization key of an onion that restricts discovery (base64; handed to tor through --tor-control)').env('BEAM_TOR_CLIENT_KEY'))
  }
  cmd
    .addOption(new Option('--tor-control <host:port>', 'Tor control port (IP:PORT or PORT; default 127.0.0.1:9051)').env('BEAM_TOR_CONTROL'))
    .addOption(new Option('--tor-socks <host:port>', 'Tor SOCKS5 port (IP:PORT or PORT; default 127.0.0.1:9050)').env('BEAM_TOR_SOCKS'))
    // BEAM_TOR_PASSWORD / BEAM_ATOR_PASSWORD are read with the password files (secret-input.ts)
    .option('--tor-password <password>', 'Tor control-port password (default: no auth or cookie auth, as tor offers; env BEAM_TOR_PASSWORD; visible in ps: prefer --tor-password-file)')
    .option('--tor-password-file <file>', 'read the Tor control-port password from the first line of a file (- for standard input)')
    .option('--tor-launch', 'start a tor of beam\'s own (data in $BEAM_HOME/tor) instead of using a running tor daemon')
    .option('--tor-launch-config <file>', 'extra torrc lines for --tor-launch (e.g. bridges, or a private test network)')
    .addOption(new Option('--ator-control <host:port>', 'ATOR (anon) control port (IP:PORT or PORT; default 127.0.0.1:9051)').env('BEAM_ATOR_CONTROL'))
    .addOption(new Option('--ator-socks <host:port>', 'ATOR (anon) SOCKS5 port (IP:PORT or PORT; default 127.0.0.1:9050)').env('BEAM_ATOR_SOCKS'))
    .option('--ator-password <password>', 'ATOR control-port password (default: no auth or cookie auth, as anon offers; env BEAM_ATOR_PASSWORD; visible in ps: prefer --ator-password-file)')
    .option('--ator-password-file <file>', 'read the ATOR control-port password from the first line of a file (- for standard input)')
    .option('--ator-launch', 'start an anon of beam\'s own (data in $BEAM_HOME/ator) instead of using a running anon daemon')
    .option('--ator-launch-config <file>', 'extra torrc lines for --ator-launch (e.g. a private test network)')
    .addOption(new Option('--anon-binary <path>', 'the anon binary (default: PATH, then ~/.cache/beam/ator-1.1.3/anon from scripts/install-ator.sh)').env('BEAM_ANON_BINARY'))
    .addOption(new Option('--i2p-sam <host:port>', 'SAM v3 bridge of the I2P router (IP:PORT or PORT; default 127.0.0.1:7656)').env('BEAM_I2P_SAM'))
    .option('--i2p-hops <in[,out]>', 'I2P tunnel length in hops, inbound[,outbound] (0-7; default 3,3: fewer hops are faster and less anonymous)')
  if (role === 'share') {
    cmd
      .option('--tor-persistent', 'keep the same onion address across runs (key in $BEAM_HOME/tor/onion-key, mode 0600)')
      .option('--ator-persistent', 'keep the same .anon address across runs (key in $BEAM_HOME/ator/onion-key, mode 0600)')
      .option('--onion-port <port>', 'port of the onion service (default: 4001)')
      .option('--i2p-persistent', 'keep the same I2P destination across runs (key in $BEAM_HOME/i2p/destination.key, mode 0600)')
      .option('--tor-client-auth <public-key>', 'restrict discovery of the onion to this client key (base32), repeatable; "new" makes a key pair and prints the private key for the connector', collect)
  }
  return cmd
}

/** The backends the flags select, in order, and whether the selection is anonymous-only. */
export interface SelectedBackends {
  backends: Backend[]
  names: string[]
  /** No `direct`: Tor-only, I2P-only (or another anonymous-only) mode. */
  anonymousOnly: boolean
  fallback: boolean
  /** Private keys made for `--tor-client-auth new`, to hand to connectors. */
  newClientKeys: string[]
}

/** `IP:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1). Names are refused: Tor mode resolves nothing. */
export function parseHostPort (text: string, flag: string): { host: string, port: number } {
  const t = text.trim()
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([^:]+):(\d{1,5})$/.exec(t) ?? /^()(\d{1,5})$/.exec(t)
  const host = m?.[1] === '' ? '127.0.0.1' : m?.[1]
  const port = Number(m?.[2] ?? 'NaN')
  if (m == null || host == null || !(port >= 1 && port <= 65535)) throw new UsageError(`invalid ${flag} '${text}': expected IP:PORT or PORT, e.g. 127.0.0.1:9051`)
  if (isIP(host) === 0) throw new UsageError(`invalid ${flag} '${text}': give an IP address, not a name (beam resolves no names for Tor or I2P)`)
  return { host, port }
}

/** Turn the flags into backend objects. Throws UsageError or BackendUnavailableError. */
export async function resolveBackends (flags: BackendFlags, home: string, ownerPid: number, env: Record<string, string | undefined> = process.env): Promise<SelectedBackends> {
  const names = backendNames(flags)
  if (flags.fallback === true && names.length < 2) throw new UsageError('--fallback needs two or more networks in --backends')
  const torFlags = [flags.torControl, flags.torSocks, flags.torPassword, flags.torLaunchConfig, flags.onionPort, flags.torClientAuth, flags.torClientKey].some(v => v != null) || flags.torLaunch === true || flags.torPersistent === true
  if (torFlags && !names.includes('tor')) throw new UsageError('--tor-* options need the tor backend (--tor or --backend tor)')
  if (flags.torLaunchConfig != null && flags.torLaunch !== true) throw new UsageError('--tor-launch-config needs --tor-launch')
  if (flags.torLaunch === true && (flags.torControl != null || flags.torSocks != null || flags.torPassword != null)) throw new UsageError('--tor-launch starts its own tor: it takes no --tor-control, --tor-socks or --tor-password')

  const ator = await atorOptions(flags, names, home, ownerPid, env)
  const i2pFlags = flags.i2pSam != null || flags.i2pHops != null || flags.i2pPersistent === true
  if (i2pFlags && !names.includes('i2p')) throw new UsageError('--i2p-* options need the i2p backend (--i2p or --backend i2p)')
  const i2p = i2pOptions(flags, home)

  const tor: TorBackendOptions = {}
  if (flags.torControl != null) { const c = parseHostPort(flags.torControl, '--tor-control'); tor.controlHost = c.host; tor.controlPort = c.port }
  if (flags.torSocks != null) { const s = parseHostPort(flags.torSocks, '--tor-socks'); tor.socksHost = s.host; tor.socksPort = s.port }
  if (flags.torPassword != null) tor.controlPassword = flags.torPassword
  if (flags.torPersistent === true) tor.keyFile = join(home, 'tor', 'onion-key')
  if (flags.onionPort != null) {
    const p = Number(flags.onionPort)
    if (!/^\d{1,5}$/.test(flags.onionPort) || p < 1 || p > 65535) throw new UsageError(`invalid --onion-port '${flags.onionPort}': expected a number from 1 to 65535`)
    tor.virtualPort = p
  }
  const newClientKeys: string[] = []
  if (flags.torClientAuth != null) {
    tor.clientAuth = flags.torClientAuth.map(k => {
      if (k !== 'new') return parseClientAuthPublicKey(k)
      const pair = generateClientAuthKeys()
      newClientKeys.push(pair.privateKey)
      return pair.publicKey
    })
  }
  if (flags.torClientKey != null) tor.clientAuthKey = parseClientAuthPrivateKey(flags.torClientKey)
  if (flags.torLaunch === true) {
    let extraTorrc: string | undefined
    if (flags.torLaunchConfig != null) extraTorrc = await readLaunchConfig(flags.torLaunchConfig, '--tor-launch-config')
    tor.launch = { dataDir: join(home, 'tor', 'launched'), ownerPid, ...(extraTorrc != null ? { extraTorrc } : {}) }
  }
  const registry = defaultBackends({ tor, ator, i2p })
  const backends: Backend[] = []
  for (const name of names) {
    let b: Backend
    try {
      b = registry.get(name)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    if (b.name !== directBackend.name && b.transport == null) {
      const a = await b.available()
      throw new BackendUnavailableError(`backend '${name}' cannot be used: ${a.reason ?? a.status}`)
    }
    backends.push(b)
  }
  return { backends, names, anonymousOnly: !names.includes('direct'), fallback: flags.fallback === true, newClientKeys }
}

async function readLaunchConfig (file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** The `--ator-*` flags as ATOR backend options (checked against the selected networks). */
async function atorOptions (flags: BackendFlags, names: string[], home: string, ownerPid: number, env: Record<string, string | undefined>): Promise<AtorBackendOptions> {
  const atorFlags = [flags.atorControl, flags.atorSocks, flags.atorPassword, flags.atorLaunchConfig].some(v => v != null) || flags.atorLaunch === true || flags.atorPersistent === true
  if (atorFlags && !names.includes('ator')) throw new UsageError('--ator-* options need the ator backend (--ator or --backend ator)')
  if (flags.atorLaunchConfig != null && flags.atorLaunch !== true) throw new UsageError('--ator-launch-config needs --ator-launch')
  if (flags.atorLaunch === true && (flags.atorControl != null || flags.atorSocks != null || flags.atorPassword != null)) throw new UsageError('--ator-launch starts its own anon: it takes no --ator-control, --ator-socks or --ator-password')
  const ator: AtorBackendOptions = { anonBinaries: anonCandidates(flags.anonBinary, env) }
  if (flags.atorControl != null) { const c = parseHostPort(flags.atorControl, '--ator-control'); ator.controlHost = c.host; ator.controlPort = c.port }
  if (flags.atorSocks != null) { const s = parseHostPort(flags.atorSocks, '--ator-socks'); ator.socksHost = s.host; ator.socksPort = s.port }
  if (flags.atorPassword != null) ator.controlPassword = flags.atorPassword
  if (flags.atorPersistent === true) ator.keyFile = join(home, 'ator', 'onion-key')
  if (flags.atorLaunch === true) {
    const extraTorrc = flags.atorLaunchConfig != null ? await readLaunchConfig(flags.atorLaunchConfig, '--ator-launch-config') : undefined
    ator.launch = { dataDir: join(home, 'ator', 'launched'), ownerPid, ...(extraTorrc != null ? { extraTorrc } : {}) }
  }
  return ator
}

/** `host:port`, `[v6]:port`: the text form of {@link parseHostPort}'s answer. */
export function hostPortText (hp: { host: string, port: number }): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`
}

/** `--i2p-hops 1` or `--i2p-hops 1,0`: tunnel lengths of both directions. */
export function parseI2pHops (text: string): { inboundLength: number, outboundLength: number } {
  const m = /^\s*([0-7])\s*(?:,\s*([0-7])\s*)?$/.exec(text)
  if (m?.[1] == null) throw new UsageError(`invalid --i2p-hops '${text}': expected IN or IN,OUT, hop counts from 0 to 7, e.g. 3 or 1,0`)
  const inbound = Number(m[1])
  return { inboundLength: inbound, outboundLength: m[2] != null ? Number(m[2]) : inbound }
}

/** How long `beam connect` retries a destination its router cannot find yet (CANT_REACH_PEER), in ms. */
const I2P_REACH_RETRY = 120_000

/** The I2P backend's options from the flags: SAM address, key file under the home, tunnel lengths. */
function i2pOptions (flags: BackendFlags, home: string): I2pBackendOptions {
  // keep retrying a fresh share's unpublished lease set for as long as one address dial may take (node.ts)
  const i2p: I2pBackendOptions = { reachRetryMs: I2P_REACH_RETRY }
  if (flags.i2pSam != null) i2p.sam = hostPortText(parseHostPort(flags.i2pSam, '--i2p-sam'))
  if (flags.i2pPersistent === true) i2p.keyFile = join(home, 'i2p', 'destination.key')
  if (flags.i2pHops != null) i2p.tunnels = parseI2pHops(flags.i2pHops)
  return i2p
}
