/**
 * The backend flags of `beam share` and `beam connect`: which networks
 * (`--backend tor`, `--backends tor,direct`, `--tor`), in which order
 * (`--fallback`), the Tor daemon's ports and credentials, and the I2P
 * router's SAM bridge (`--i2p`, `--i2p-sam`, `--i2p-persistent`, `--i2p-hops`).
 */
import { isIP } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { BackendUnavailableError, defaultBackends, directBackend, generateClientAuthKeys, parseClientAuthPrivateKey, parseClientAuthPublicKey } from '../backends/index.ts'
import type { Backend, I2pBackendOptions, TorBackendOptions } from '../backends/index.ts'
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
}

export function addBackendOptions (cmd: Command, role: 'share' | 'connect'): Command {
  cmd
    .option('--backend <name>', 'network to use: direct (default), tor, i2p (beam backends lists them)')
    .option('--backends <list>', 'several networks, comma-separated, e.g. tor,direct')
    .option('--tor', 'short for --backend tor')
    .option('--i2p', 'short for --backend i2p')
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
    .addOption(new Option('--tor-password <password>', 'Tor control-port password (default: no auth or cookie auth, as tor offers)').env('BEAM_TOR_PASSWORD'))
    .option('--tor-launch', 'start a tor of beam\'s own (data in $BEAM_HOME/tor) instead of using a running tor daemon')
    .option('--tor-launch-config <file>', 'extra torrc lines for --tor-launch (e.g. bridges, or a private test network)')
    .addOption(new Option('--i2p-sam <host:port>', 'SAM v3 bridge of the I2P router (IP:PORT or PORT; default 127.0.0.1:7656)').env('BEAM_I2P_SAM'))
    .option('--i2p-hops <in[,out]>', 'I2P tunnel length in hops, inbound[,outbound] (0-7; default 3,3: fewer hops are faster and less anonymous)')
  if (role === 'share') {
    cmd
      .option('--tor-persistent', 'keep the same onion address across runs (key in $BEAM_HOME/tor/onion-key, mode 0600)')
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
export async function resolveBackends (flags: BackendFlags, home: string, ownerPid: number): Promise<SelectedBackends> {
  const given = [flags.backend != null, flags.backends != null, flags.tor === true, flags.i2p === true].filter(Boolean).length
  if (given > 1) throw new UsageError('give one of --backend, --backends, --tor and --i2p')
  const names = flags.tor === true ? ['tor'] : flags.i2p === true ? ['i2p'] : flags.backend != null ? [flags.backend.trim()] : flags.backends != null ? splitList(flags.backends) : ['direct']
  if (names.length === 0) throw new UsageError('--backends: empty list')
  if (new Set(names).size !== names.length) throw new UsageError(`--backends '${names.join(',')}': a network is listed twice`)
  if (flags.fallback === true && names.length < 2) throw new UsageError('--fallback needs two or more networks in --backends')
  const torFlags = [flags.torControl, flags.torSocks, flags.torPassword, flags.torLaunchConfig, flags.onionPort, flags.torClientAuth, flags.torClientKey].some(v => v != null) || flags.torLaunch === true || flags.torPersistent === true
  if (torFlags && !names.includes('tor')) throw new UsageError('--tor-* options need the tor backend (--tor or --backend tor)')
  if (flags.torLaunchConfig != null && flags.torLaunch !== true) throw new UsageError('--tor-launch-config needs --tor-launch')
  if (flags.torLaunch === true && (flags.torControl != null || flags.torSocks != null || flags.torPassword != null)) throw new UsageError('--tor-launch starts its own tor: it takes no --tor-control, --tor-socks or --tor-password')

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
    if (flags.torLaunchConfig != null) {
      try {
        extraTorrc = await readFile(flags.torLaunchConfig, 'utf8')
      } catch (err) {
        throw new UsageError(`cannot read --tor-launch-config ${flags.torLaunchConfig}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
      }
    }
    tor.launch = { dataDir: join(home, 'tor', 'launched'), ownerPid, ...(extraTorrc != null ? { extraTorrc } : {}) }
  }
  const registry = defaultBackends({ tor, i2p })
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
