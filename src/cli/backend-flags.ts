/**
 * The backend flags of `beam share` and `beam connect`: which networks
 * (`--backend tor`, `--backends tor,direct`, `--tor`), in which order
 * (`--fallback`), and the Tor daemon's ports and credentials; the same for
 * ATOR's anon daemon (`--ator`, `--ator-control`, …); and the I2P router's
 * SAM bridge (`--i2p`, `--i2p-sam`, `--i2p-persistent`, `--i2p-hops`); and
 * the parsers of their values. settings/backends.ts merges them with the
 * config file and makes the Backend objects.
 */
import { isIP } from 'node:net'
import { delimiter, join } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { ANON_CANDIDATES } from '../backends/index.ts'
import { UsageError } from './exit-codes.ts'
import { collect, ipv6BracketHint, splitList } from './parse.ts'

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

/** `IP:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1). Names are refused: Tor mode resolves nothing. */
export function parseHostPort (text: string, flag: string): { host: string, port: number } {
  const t = text.trim()
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([^:]+):(\d{1,5})$/.exec(t) ?? /^()(\d{1,5})$/.exec(t)
  const host = m?.[1] === '' ? '127.0.0.1' : m?.[1]
  const port = Number(m?.[2] ?? 'NaN')
  const hint = ipv6BracketHint(t)
  if (hint != null) throw new UsageError(`invalid ${flag} '${text}': ${hint}`)
  if (m == null || host == null || !(port >= 1 && port <= 65535)) throw new UsageError(`invalid ${flag} '${text}': expected IP:PORT or PORT, e.g. 127.0.0.1:9051`)
  if (isIP(host) === 0) throw new UsageError(`invalid ${flag} '${text}': give an IP address, not a name (beam resolves no names for Tor or I2P)`)
  return { host, port }
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
