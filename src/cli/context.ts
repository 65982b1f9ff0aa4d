import { Option } from 'commander'
import type { Command } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import { ephemeralIdentity, loadOrCreateIdentity, InvalidMultiaddrError, LogRing, DEFAULT_DHT_PROTOCOL } from '../peer/index.ts'
import { UsageError } from './exit-codes.ts'
import type { BeamInit, ControlTransport, IceServer, Logger } from '../peer/index.ts'
import { controlTransport } from './control.ts'
import { anonymousPaths, backendSetName, beamHome, homePaths } from './home.ts'
import { createCliLogger, LOG_LEVELS } from './logging.ts'
import type { LogLevel } from './logging.ts'
import { createOutput } from './output.ts'
import type { Output, OutputStreams } from './output.ts'
import { collect, parseBytes } from './parse.ts'
import { RotatingLogFile, DEFAULT_LOG_FILE_BYTES, DEFAULT_LOG_FILE_KEEP } from './log-file.ts'
import { warnIfExposed } from './permissions.ts'
import type { Readable, Writable } from 'node:stream'

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
  /** `--no-public-stun` sets false. */
  publicStun?: boolean
  webrtc?: boolean
  dht?: boolean
  dhtProtocol?: string
  dhtServer?: boolean
  /** `--log-file FILE`: also write the JSON log lines there, rotated by size. */
  logFile?: string
  /** `--log-file-size SIZE`: rotate the log file past this size. */
  logFileSize?: string
}

/** What a command gets from the process: streams, env and the stop signal. */
export interface CliIo extends OutputStreams {
  env: NodeJS.ProcessEnv
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal
  stderrIsTTY: boolean
  /** Standard input, opened only when a secret is read from it (`-`) or a tunnel is carried on it (`--stdio`). @default none */
  openStdin?: () => Readable
  /** Standard output as a byte stream, for a tunnel carried on it (`--stdio`). @default none */
  openStdout?: () => Writable
  /** Stop the running command as SIGTERM would (a stop asked through the control socket). @default none: the command stops itself */
  requestStop?: () => void
  /** The process id and user id (for the control socket). @default none: no control socket */
  processIds?: { pid: number, uid: number }
}

export function addOutputOptions (cmd: Command, defaultLevel: LogLevel = 'info'): Command {
  return cmd
    .option('--json', 'machine output: one JSON event per line on stdout, JSON logs on stderr')
    .addOption(new Option('--log-level <level>', 'log verbosity').choices([...LOG_LEVELS]).default(defaultLevel).env('BEAM_LOG_LEVEL'))
}

/** The log file flags of the commands that run for long (share, connect, relay, up). */
export function addLogFileOptions (cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-file <file>', `also write the log (JSON lines) to this file, rotated by size (FILE.1 … FILE.${DEFAULT_LOG_FILE_KEEP} kept)`).env('BEAM_LOG_FILE'))
    .option('--log-file-size <size>', `rotate the log file when it would grow past this size, e.g. 10MiB (default ${DEFAULT_LOG_FILE_BYTES / 1024 / 1024}MiB)`)
}

export function addIdentityOptions (cmd: Command): Command {
  return cmd
    .addOption(new Option('--identity <file>', 'identity key file (default: $BEAM_HOME/identity.json; identity-<networks>.json when only Tor, ATOR or I2P is used)').env('BEAM_IDENTITY'))
    .option('--ephemeral', 'use a throwaway identity for this run (a new peer id)')
}

export function addNetworkOptions (cmd: Command): Command {
  return cmd
    .option('--bootstrap <multiaddr>', 'bootstrap/relay node, repeatable; replaces bootstrap-nodes.json (env BEAM_BOOTSTRAP, comma-separated)', collect)
    .option('--no-default-bootstrap', 'use no bootstrap node unless given with --bootstrap (offline, LAN, tests; env BEAM_BOOTSTRAP_FILE names another list)')
    .option('--ice-server <url>', 'STUN/TURN server for WebRTC, repeatable, e.g. stun:host:3478 or turn:user:pass@host:3478 (env BEAM_ICE_SERVERS)', collect)
    .option('--ice-server-file <file>', 'read STUN/TURN server URLs from a file, one per line (- for standard input): keeps TURN passwords out of ps')
    .option('--no-public-stun', 'never use the public STUN servers (used when no beam relay offers STUN and no --ice-server is given; env BEAM_NO_PUBLIC_STUN=1)')
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
  /** The process's recent log lines (what `beam logs` reads through the control socket). */
  logs?: LogRing
  /** The log file (`--log-file`), if any. */
  logFile?: RotatingLogFile
  /** How a long-running command opens its control endpoint (`BEAM_CONTROL`, checked here so a wrong value stops the command before it starts). @default the platform's: see controlTransport */
  control?: ControlTransport
}

export function createContext (flags: CommonFlags, io: CliIo): Context {
  const json = flags.json === true
  const control = controlTransport(io.env)
  const logs = new LogRing()
  let logFile: RotatingLogFile | undefined
  if (flags.logFile != null && flags.logFile !== '') {
    const maxBytes = flags.logFileSize != null ? parseBytes(flags.logFileSize, '--log-file-size') : undefined
    if (maxBytes === 0) throw new UsageError('invalid --log-file-size \'0\': expected a size above 0, e.g. 10MiB')
    try {
      logFile = new RotatingLogFile({ path: flags.logFile, ...(maxBytes != null ? { maxBytes } : {}) })
    } catch (err) {
      throw new UsageError(`cannot open the log file ${flags.logFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  } else if (flags.logFileSize != null) {
    throw new UsageError('--log-file-size needs --log-file')
  }
  const copies = [{ write: (s: string) => { logs.push(s) } }, ...(logFile != null ? [logFile] : [])]
  const log = createCliLogger({ level: flags.logLevel ?? 'info', format: json || !io.stderrIsTTY ? 'json' : 'pretty', copies })
  return { out: createOutput(json, io), log, home: beamHome(io.env), logs, control, ...(logFile != null ? { logFile } : {}) }
}

/**
 * Which identity a command runs with: `ephemeral` (--ephemeral), `file`
 * (--identity or BEAM_IDENTITY), `anonymous` (the backend set's own
 * `identity-<set>.json`, see anonymousPaths) or `main` (`identity.json`).
 */
export type IdentityKind = 'ephemeral' | 'file' | 'anonymous' | 'main'

/** Which key a node runs with, before it is read (`--ephemeral`, `--identity` / `BEAM_IDENTITY`). */
export interface IdentitySettings {
  /** A throwaway key for this run. @default false */
  ephemeral?: boolean
  /** The key file. @default $BEAM_HOME/identity.json, or the anonymous set's own */
  file?: string
}

/** The identity flags as settings. */
export function identityOf (flags: Pick<CommonFlags, 'ephemeral' | 'identity'>): IdentitySettings {
  return { ephemeral: flags.ephemeral === true, ...(flags.identity != null ? { file: flags.identity } : {}) }
}

/** What {@link resolveIdentity} answers. */
export interface ResolvedIdentity {
  privateKey: BeamInit['privateKey']
  /** The key file; unset when ephemeral. */
  path?: string
  kind: IdentityKind
}

/**
 * Resolve the identity settings to a key, saying where a new key was saved.
 * `anonymous` names the networks of an anonymous-only node (no `direct`):
 * it then uses that set's own key file unless --identity names one.
 */
export async function resolveIdentity (identity: IdentitySettings, ctx: Context, anonymous?: string[]): Promise<ResolvedIdentity> {
  if (identity.ephemeral === true) return { privateKey: await ephemeralIdentity(), kind: 'ephemeral' }
  const kind: IdentityKind = identity.file != null ? 'file' : anonymous != null && anonymous.length > 0 ? 'anonymous' : 'main'
  const path = identity.file ?? (kind === 'anonymous' ? anonymousPaths(ctx.home, anonymous ?? []).identity : homePaths(ctx.home).identity)
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
