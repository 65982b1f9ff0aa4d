import { Option } from 'commander'
import type { Command } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import {
  ephemeralIdentity, loadOrCreateIdentity, loadBootstrapFile, parsePeerMultiaddr, stunServersOf, InvalidMultiaddrError, DEFAULT_DHT_PROTOCOL
} from '../peer/index.ts'
import { UsageError } from './exit-codes.ts'
import type { BeamInit, BootstrapNode, IceServer, Logger } from '../peer/index.ts'
import { anonymousPaths, backendSetName, beamHome, homePaths } from './home.ts'
import { createCliLogger, LOG_LEVELS } from './logging.ts'
import type { LogLevel } from './logging.ts'
import { createOutput } from './output.ts'
import type { Output, OutputStreams } from './output.ts'
import { collect, splitList } from './parse.ts'
import { linesOf, readSecretInput } from './secret-input.ts'
import { warnIfExposed } from './permissions.ts'
import type { Readable } from 'node:stream'

/** Flags every command that runs a node takes. */
export interface CommonFlags {
  json?: boolean
  logLevel?: LogLevel
  identity?: string
  ephemeral?: boolean
  bootstrap?: string[]
  defaultBootstrap?: boolean
  iceServer?: string[]
  iceServerFile?: string
  webrtc?: boolean
  dht?: boolean
  dhtProtocol?: string
  dhtServer?: boolean
}

/** What a command gets from the process: streams, env and the stop signal. */
export interface CliIo extends OutputStreams {
  env: NodeJS.ProcessEnv
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal
  stderrIsTTY: boolean
  /** Standard input, opened only when a secret is read from it (`-`). @default none */
  openStdin?: () => Readable
}

export function addOutputOptions (cmd: Command, defaultLevel: LogLevel = 'info'): Command {
  return cmd
    .option('--json', 'machine output: one JSON event per line on stdout, JSON logs on stderr')
    .addOption(new Option('--log-level <level>', 'log verbosity').choices([...LOG_LEVELS]).default(defaultLevel).env('BEAM_LOG_LEVEL'))
}

export function addIdentityOptions (cmd: Command): Command {
  return cmd
    .addOption(new Option('--identity <file>', 'identity key file (default: $BEAM_HOME/identity.json; identity-<networks>.json when only Tor, ATOR or I2P is used)').env('BEAM_IDENTITY'))
    .option('--ephemeral', 'use a throwaway identity for this run (a new peer id)')
}

export function addNetworkOptions (cmd: Command): Command {
  return cmd
    .option('--bootstrap <multiaddr>', 'bootstrap/relay node, repeatable; replaces bootstrap-nodes.json (env BEAM_BOOTSTRAP, comma-separated)', collect)
    .option('--no-default-bootstrap', 'use no bootstrap node unless given with --bootstrap (offline, LAN, tests)')
    .option('--ice-server <url>', 'STUN/TURN server for WebRTC, repeatable, e.g. stun:host:3478 or turn:user:pass@host:3478 (env BEAM_ICE_SERVERS)', collect)
    .option('--ice-server-file <file>', 'read STUN/TURN server URLs from a file, one per line (- for standard input): keeps TURN passwords out of ps')
    .option('--no-webrtc', 'do not use WebRTC (no direct upgrade of relayed connections)')
    .option('--no-dht', 'do not use the DHT (no lookups by peer id or name, no announcing)')
    .addOption(new Option('--dht-protocol <id>', `Kademlia protocol id (default: ${DEFAULT_DHT_PROTOCOL}, the public libp2p DHT's)`).env('BEAM_DHT_PROTOCOL'))
    .option('--dht-server', 'run the DHT as a server: store records and answer queries for others (default: client; only for a machine others reach directly for days)')
}

/** Everything a command needs, built from the common flags. */
export interface Context {
  out: Output
  log: Logger
  home: string
}

export function createContext (flags: CommonFlags, io: CliIo): Context {
  const json = flags.json === true
  const log = createCliLogger({ level: flags.logLevel ?? 'info', format: json || !io.stderrIsTTY ? 'json' : 'pretty' })
  return { out: createOutput(json, io), log, home: beamHome(io.env) }
}

/**
 * Which identity a command runs with: `ephemeral` (--ephemeral), `file`
 * (--identity or BEAM_IDENTITY), `anonymous` (the backend set's own
 * `identity-<set>.json`, see anonymousPaths) or `main` (`identity.json`).
 */
export type IdentityKind = 'ephemeral' | 'file' | 'anonymous' | 'main'

/** What {@link resolveIdentity} answers. */
export interface ResolvedIdentity {
  privateKey: BeamInit['privateKey']
  /** The key file; unset when ephemeral. */
  path?: string
  kind: IdentityKind
}

/**
 * Resolve the identity flags to a key, saying where a new key was saved.
 * `anonymous` names the networks of an anonymous-only node (no `direct`):
 * it then uses that set's own key file unless --identity names one.
 */
export async function resolveIdentity (flags: CommonFlags, ctx: Context, anonymous?: string[]): Promise<ResolvedIdentity> {
  if (flags.ephemeral === true) return { privateKey: await ephemeralIdentity(), kind: 'ephemeral' }
  const kind: IdentityKind = flags.identity != null ? 'file' : anonymous != null && anonymous.length > 0 ? 'anonymous' : 'main'
  const path = flags.identity ?? (kind === 'anonymous' ? anonymousPaths(ctx.home, anonymous ?? []).identity : homePaths(ctx.home).identity)
  const id = await loadOrCreateIdentity(path)
  if (id.created) ctx.log.info({ identity: path }, `created a new ${kind === 'anonymous' ? `${backendSetName(anonymous ?? [])}-only ` : ''}identity at ${path}`)
  // the state a share or connect relies on: warn (once) if other users can read it
  const secret = kind === 'anonymous' ? anonymousPaths(ctx.home, anonymous ?? []).secret : homePaths(ctx.home).secret
  await warnIfExposed([{ what: 'BEAM_HOME', path: ctx.home }, { what: 'identity file', path }, { what: 'access secret file', path: secret }], ctx.log)
  return { privateKey: id.privateKey, path, kind }
}

/** Parse `stun:host:port` / `turn:user:pass@host:port` into an ICE server. */
export function parseIceServer (text: string): IceServer {
  const m = /^(stun|stuns|turn|turns):(?:([^:@]+):([^@]+)@)?(.+)$/.exec(text)
  // the message shows no credentials: they may have come from a file to keep them private
  if (m == null) throw new InvalidMultiaddrError(`invalid ICE server '${text.replace(/^([a-z]+:)?[^@]*@/i, '$1***@')}': expected stun:HOST:PORT or turn:USER:PASS@HOST:PORT`)
  const server: IceServer = { urls: `${m[1] ?? ''}:${m[4] ?? ''}` }
  if (m[2] != null) server.username = decodeURIComponent(m[2])
  if (m[3] != null) server.credential = decodeURIComponent(m[3])
  return server
}

/** The bootstrap list from flags, env and bootstrap-nodes.json, in that order. */
export async function resolveBootstrap (flags: CommonFlags, io: CliIo, log: Logger): Promise<BootstrapNode[]> {
  const given = [...(flags.bootstrap ?? []), ...(flags.bootstrap == null ? splitList(io.env.BEAM_BOOTSTRAP) : [])]
  if (given.length > 0) return given.map(text => ({ multiaddr: parsePeerMultiaddr(text), roles: ['bootstrap', 'relay'] }))
  if (flags.defaultBootstrap === false) return []
  const list = await loadBootstrapFile()
  for (const d of list.dropped) log.warn({ entry: d.entry }, `bootstrap-nodes.json: entry dropped: ${d.reason}`)
  if (list.nodes.length === 0) {
    log.debug('bootstrap-nodes.json lists no node: only peers whose addresses are known (connect strings) can be reached')
  }
  return list.nodes
}

/**
 * Node settings shared by every command. `anonymous`: the networks of an
 * anonymous-only node, whose identity is its own (see resolveIdentity).
 */
export async function baseInit (flags: CommonFlags, io: CliIo, ctx: Context, anonymous?: string[]): Promise<BeamInit & { identityPath?: string, identityKind: IdentityKind }> {
  if (flags.dht === false && flags.dhtServer === true) throw new UsageError('--dht-server and --no-dht exclude each other')
  const bootstrap = await resolveBootstrap(flags, io, ctx.log)
  // explicit ICE servers win; otherwise the relays' own STUN responders (never a third party's)
  const fromFile = flags.iceServerFile != null ? linesOf(await readSecretInput(flags.iceServerFile, '--ice-server-file', io)) : undefined
  if (fromFile?.length === 0) throw new UsageError(`--ice-server-file ${flags.iceServerFile ?? ''}: lists no server`)
  const given = flags.iceServer != null || fromFile != null
  const explicitIce = [...(flags.iceServer ?? []), ...(fromFile ?? []), ...(given ? [] : splitList(io.env.BEAM_ICE_SERVERS))]
  const ice = explicitIce.length > 0 ? explicitIce : stunServersOf(bootstrap)
  const id = await resolveIdentity(flags, ctx, anonymous)
  const init: BeamInit & { identityPath?: string, identityKind: IdentityKind } = {
    identityKind: id.kind,
    iceServers: ice.map(parseIceServer),
    bootstrap: bootstrap.map(n => n.multiaddr),
    addressBook: homePaths(ctx.home).addressBook,
    transports: { webrtc: flags.webrtc !== false },
    dht: flags.dht === false ? false : { protocol: parseDhtProtocol(flags.dhtProtocol ?? DEFAULT_DHT_PROTOCOL), server: flags.dhtServer === true },
    logger: ctx.log
  }
  if (id.privateKey != null) init.privateKey = id.privateKey
  if (id.path != null) init.identityPath = id.path
  // loopback WebRTC needs a pinned host candidate; lab/test switch only
  if (io.env.BEAM_WEBRTC_BIND != null && io.env.BEAM_WEBRTC_BIND !== '') init.webrtcBindAddress = io.env.BEAM_WEBRTC_BIND
  return init
}

/** A libp2p protocol id: '/' then printable characters, no spaces. */
export function parseDhtProtocol (text: string): string {
  if (!/^\/[\x21-\x7e]{1,200}$/.test(text)) throw new UsageError(`invalid --dht-protocol '${text}': expected a protocol id like ${DEFAULT_DHT_PROTOCOL}`)
  return text
}

/** Validate listen multiaddrs early so a typo is a config error, not a crash. */
export function parseListen (list: string[]): string[] {
  for (const text of list) {
    try {
      multiaddr(text)
    } catch (err) {
      throw new InvalidMultiaddrError(`invalid listen address '${text}'`, err)
    }
  }
  return list
}

/** Resolve when the signal aborts. */
export async function untilAborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}
