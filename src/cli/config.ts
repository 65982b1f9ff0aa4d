/**
 * `beam.config.yaml`: backends with priorities and options, named shares
 * (`tunnels:`) and named connections (`connect:`). This module reads and
 * validates the file; it starts nothing. Every problem is reported as
 * `FILE:LINE: path.to.key: what is wrong`, all of them at once, in a
 * `ConfigError`. docs/configuration.md is the user's reference.
 */
import { readFile, stat } from 'node:fs/promises'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Node, Pair, YAMLMap } from 'yaml'
import { decodeConnectString, looksLikeConnectString, parsePeerId, parsePeerMultiaddr } from '../peer/index.ts'

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
  line: number
}

export interface BeamConfig {
  /** The file it was read from, as given. */
  file: string
  version: number
  backends: BackendsConfig
  tunnels: Record<string, TunnelConfig>
  connect: Record<string, ConnectConfig>
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

const DEFAULT_PRIORITY = 100
/** As on the command line, where `--backends a,b` uses all at once unless `--fallback`. */
const DEFAULT_STRATEGY: Strategy = 'first-success'
/** Names of the config file's tunnels and connections (not share names: see SHARE_NAME_RE). */
const ENTRY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/
const STRATEGIES: Strategy[] = ['fallback', 'first-success']
const ACCESS_MODES: AccessMode[] = ['public', 'secret', 'allow']
const TOP_KEYS = ['version', 'backends', 'tunnels', 'connect']
const COMMON_BACKEND_KEYS = ['priority', 'enabled']
const BACKEND_KEYS: Record<string, string[]> = {
  direct: [...COMMON_BACKEND_KEYS, 'iceServers', 'bootstrap'],
  tor: [...COMMON_BACKEND_KEYS, 'control', 'socks', 'controlPassword', 'launch', 'launchConfig', 'persistent', 'onionPort'],
  ator: [...COMMON_BACKEND_KEYS, 'control', 'socks', 'controlPassword', 'launch', 'launchConfig', 'persistent', 'anonBinary'],
  i2p: [...COMMON_BACKEND_KEYS, 'sam']
}
const EXTRA_BACKEND_KEYS = [...COMMON_BACKEND_KEYS, 'options']
const TUNNEL_KEYS = ['port', 'ports', 'host', 'backends', 'strategy', 'access', 'allow']
const CONNECT_KEYS = ['target', 'localPort', 'host', 'remote', 'backends', 'strategy']
const ICE_KEYS = ['urls', 'username', 'credential']

/** Edit distance counting a swap of neighbours as one edit, for "did you mean" suggestions. */
function distance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1)
      const row = d[i]
      if (row != null) row[j] = v
    }
  }
  return at(a.length, b.length)
}

/** `did you mean 'x'?` or the list of what is allowed. */
export function suggest (word: string, choices: readonly string[]): string {
  const lower = word.toLowerCase()
  let best: string | undefined
  let bestD = Infinity
  for (const c of choices) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase())
    if (d < bestD) { best = c; bestD = d }
  }
  if (best != null && bestD <= Math.max(1, Math.min(3, Math.floor(best.length / 3)))) return `did you mean '${best}'?`
  // `port` for `localPort`: the word is the tail of one choice
  const tail = lower.length >= 3 ? choices.filter(c => c.toLowerCase().endsWith(lower)) : []
  if (tail.length === 1) return `did you mean '${tail[0] ?? ''}'?`
  return `expected one of: ${choices.join(', ')}`
}

/**
 * The entry of `record` named `key`, if the record has one of its own.
 * Names in a config file and on the command line are user input: `beam up
 * constructor` must find no tunnel, not Object.prototype.constructor.
 */
export function ownEntry<T> (record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

/** An empty record without a prototype, for maps keyed by names from the file. */
function emptyRecord<T> (): Record<string, T> {
  return Object.create(null) as Record<string, T>
}

const show = (v: unknown): string => typeof v === 'string' ? `'${v}'` : v === null ? 'an empty value' : String(v)

/** Collects issues while walking the document. */
class Reader {
  readonly issues: ConfigIssue[] = []
  private readonly file: string
  private readonly lines: LineCounter
  private readonly textLength: number

  constructor (file: string, lines: LineCounter, text: string) {
    this.file = file
    this.lines = lines
    this.textLength = text.trimEnd().length
  }

  at (offset: number, path: string, message: string): void {
    // an error found at the end of the text belongs to its last written line
    const pos = this.lines.linePos(Math.max(0, Math.min(offset, this.textLength - 1)))
    this.issues.push({ file: this.file, line: pos.line, column: pos.col, path, message })
  }

  fail (node: Node | null | undefined, path: string, message: string): void {
    this.at(node?.range?.[0] ?? 0, path, message)
  }

  lineOf (node: Node | null | undefined): number {
    return this.lines.linePos(node?.range?.[0] ?? 0).line
  }

  /**
   * The entries of a map whose keys must be among `allowed` (when given).
   * Reports a non-map, non-string keys and unknown keys.
   */
  map (node: Node | null | undefined, path: string, what: string, allowed?: readonly string[]): Array<{ key: string, keyNode: Node, value: Node | null }> | undefined {
    if (node == null || (isScalar(node) && node.value == null)) return []
    if (!isMap(node)) {
      this.fail(node, path, `expected ${what} (a map of key: value), got ${describe(node)}`)
      return undefined
    }
    const out: Array<{ key: string, keyNode: Node, value: Node | null }> = []
    for (const pair of (node as YAMLMap<unknown, unknown>).items as Array<Pair<unknown, unknown>>) {
      const keyNode = pair.key as Node | null
      if (keyNode == null || !isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
        this.fail(keyNode ?? node, path, 'keys must be plain names')
        continue
      }
      const key = String(keyNode.value)
      const full = path === '' ? key : `${path}.${key}`
      if (allowed != null && !allowed.includes(key)) {
        this.fail(keyNode, full, `unknown key: ${suggest(key, allowed)}`)
        continue
      }
      out.push({ key, keyNode, value: (pair.value as Node | null) ?? null })
    }
    return out
  }
}

function describe (node: Node | null | undefined): string {
  if (node == null) return 'nothing'
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) return show(node.value)
  return 'something else'
}

function scalar (node: Node | null | undefined): unknown {
  return node != null && isScalar(node) ? node.value : undefined
}

function readString (r: Reader, node: Node | null, path: string, what = 'a string'): string | undefined {
  const v = scalar(node)
  if (typeof v === 'string' && v.trim() !== '') return v.trim()
  r.fail(node, path, `expected ${what}, got ${describe(node)}`)
  return undefined
}

function readBool (r: Reader, node: Node | null, path: string): boolean | undefined {
  const v = scalar(node)
  if (typeof v === 'boolean') return v
  r.fail(node, path, `expected true or false, got ${describe(node)}`)
  return undefined
}

function readInt (r: Reader, node: Node | null, path: string, min: number, max: number, noun: string): number | undefined {
  const v = scalar(node)
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : NaN
  if (Number.isInteger(n) && n >= min && n <= max) return n
  r.fail(node, path, `${describe(node)} is not ${noun} (${min}-${max})`)
  return undefined
}

const readPort = (r: Reader, node: Node | null, path: string): number | undefined => readInt(r, node, path, 1, 65535, 'a port')

function readChoice<T extends string> (r: Reader, node: Node | null, path: string, choices: readonly T[]): T | undefined {
  const v = scalar(node)
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T
  r.fail(node, path, `${describe(node)} is not valid: ${typeof v === 'string' ? suggest(v, choices) : `expected one of: ${choices.join(', ')}`}`)
  return undefined
}

function readList (r: Reader, node: Node | null, path: string, what: string): Array<Node | null> | undefined {
  if (node != null && isSeq(node)) return node.items as Array<Node | null>
  r.fail(node, path, `expected a list of ${what} (e.g. [a, b] or one '- item' per line), got ${describe(node)}`)
  return undefined
}

/** `host:port`, `[v6]:port`, or a bare port on 127.0.0.1 (as `--tor-control PORT`). */
function readHostPort (r: Reader, node: Node | null, path: string): HostPort | undefined {
  if (typeof scalar(node) === 'number') {
    const port = readPort(r, node, path)
    return port == null ? undefined : { host: '127.0.0.1', port }
  }
  const text = readString(r, node, path, 'host:port')
  if (text == null) return undefined
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text)
  const port = m != null ? Number(m[2]) : NaN
  if (m == null || !(port >= 1 && port <= 65535)) {
    r.fail(node, path, `'${text}' is not host:port (e.g. 127.0.0.1:9051)`)
    return undefined
  }
  return { host: m[1] ?? '', port }
}

/** A share's service: a port number, `"PORT"` or `"HOST:PORT"`. */
function readService (r: Reader, node: Node | null, path: string): ServiceConfig | undefined {
  const v = scalar(node)
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+\s*$/.test(v))) {
    const port = readPort(r, node, path)
    return port == null ? undefined : { port }
  }
  if (typeof v === 'string') {
    const m = /^\[([0-9a-fA-F:.]+)\]:(.+)$/.exec(v.trim()) ?? /^([^:\s]+):([^:]+)$/.exec(v.trim())
    if (m != null) {
      const port = Number(m[2])
      if (Number.isInteger(port) && port >= 1 && port <= 65535) return { host: m[1] ?? '', port }
      r.fail(node, path, `'${m[2] ?? ''}' is not a port (1-65535)`)
      return undefined
    }
  }
  r.fail(node, path, `${describe(node)} is not a port (1-65535) or host:port`)
  return undefined
}

function readBackendSettings (r: Reader, fields: Map<string, Node | null>, path: string, line: number): BackendSettings {
  const priorityNode = fields.get('priority')
  const enabledNode = fields.get('enabled')
  const priority = priorityNode === undefined ? DEFAULT_PRIORITY : readInt(r, priorityNode, `${path}.priority`, 0, 1000, 'a priority') ?? DEFAULT_PRIORITY
  const enabled = enabledNode === undefined ? true : readBool(r, enabledNode, `${path}.enabled`) ?? true
  return { priority, enabled, line }
}

function readIceServers (r: Reader, node: Node | null, path: string): IceServerConfig[] | undefined {
  const items = readList(r, node, path, 'STUN/TURN servers')
  if (items == null) return undefined
  const out: IceServerConfig[] = []
  items.forEach((item, i) => {
    const p = `${path}[${i}]`
    const checkUrl = (n: Node | null, q: string): string | undefined => {
      const url = readString(r, n, q, 'a stun:, stuns:, turn: or turns: URL')
      if (url != null && !/^(stuns?|turns?):[^\s]+$/.test(url)) {
        r.fail(n, q, `'${url}' is not a stun:, stuns:, turn: or turns: URL`)
        return undefined
      }
      return url
    }
    if (item != null && isScalar(item)) {
      const url = checkUrl(item, p)
      if (url != null) out.push({ urls: [url] })
      return
    }
    const fields = r.map(item, p, 'a server (a URL, or urls/username/credential)', ICE_KEYS)
    if (fields == null) return
    const f = new Map(fields.map(e => [e.key, e.value]))
    const urlsNode = f.get('urls')
    if (urlsNode === undefined) {
      r.fail(item, p, 'missing urls')
      return
    }
    const urls = urlsNode != null && isSeq(urlsNode)
      ? (urlsNode.items as Array<Node | null>).map((u, j) => checkUrl(u, `${p}.urls[${j}]`)).filter((u): u is string => u != null)
      : [checkUrl(urlsNode, `${p}.urls`)].filter((u): u is string => u != null)
    const server: IceServerConfig = { urls }
    const user = f.get('username')
    const cred = f.get('credential')
    if (user !== undefined) server.username = readString(r, user, `${p}.username`)
    if (cred !== undefined) server.credential = readString(r, cred, `${p}.credential`)
    if ((user === undefined) !== (cred === undefined)) r.fail(item, p, 'username and credential go together')
    out.push(server)
  })
  return out
}

function readBackends (r: Reader, node: Node | null | undefined, extra: readonly string[]): BackendsConfig {
  const out: BackendsConfig = { extra: emptyRecord() }
  const known = [...BUILTIN_BACKENDS, ...extra]
  const entries = r.map(node, 'backends', 'the backends section')
  for (const { key, keyNode, value } of entries ?? []) {
    const path = `backends.${key}`
    if (!known.includes(key)) {
      r.fail(keyNode, path, `unknown backend: ${suggest(key, known)}`)
      continue
    }
    const allowed = ownEntry(BACKEND_KEYS, key) ?? EXTRA_BACKEND_KEYS
    const fields = r.map(value, path, `the settings of backend '${key}'`, allowed)
    if (fields == null) continue
    const f = new Map(fields.map(e => [e.key, e.value]))
    const base = readBackendSettings(r, f, path, r.lineOf(keyNode))
    if (key === 'direct') {
      const d: DirectBackendConfig = { ...base }
      const ice = f.get('iceServers')
      if (ice !== undefined) d.iceServers = readIceServers(r, ice, `${path}.iceServers`)
      const boot = f.get('bootstrap')
      if (boot !== undefined) {
        const items = readList(r, boot, `${path}.bootstrap`, 'multiaddrs with /p2p/') ?? []
        d.bootstrap = []
        items.forEach((item, i) => {
          const q = `${path}.bootstrap[${i}]`
          const text = readString(r, item, q, 'a multiaddr')
          if (text == null) return
          try {
            parsePeerMultiaddr(text)
            d.bootstrap?.push(text)
          } catch (err) {
            r.fail(item, q, (err as Error).message)
          }
        })
      }
      out.direct = d
    } else if (key === 'tor' || key === 'ator') {
      const t: TorBackendConfig & AtorBackendConfig = { ...base }
      const get = (k: string): Node | null | undefined => f.get(k)
      if (get('control') !== undefined) t.control = readHostPort(r, get('control') ?? null, `${path}.control`)
      if (get('socks') !== undefined) t.socks = readHostPort(r, get('socks') ?? null, `${path}.socks`)
      if (get('controlPassword') !== undefined) t.controlPassword = readString(r, get('controlPassword') ?? null, `${path}.controlPassword`)
      if (get('launch') !== undefined) t.launch = readBool(r, get('launch') ?? null, `${path}.launch`)
      if (get('launchConfig') !== undefined) t.launchConfig = readString(r, get('launchConfig') ?? null, `${path}.launchConfig`, 'a file path')
      if (get('persistent') !== undefined) t.persistent = readBool(r, get('persistent') ?? null, `${path}.persistent`)
      if (get('onionPort') !== undefined) t.onionPort = readPort(r, get('onionPort') ?? null, `${path}.onionPort`)
      if (get('launchConfig') !== undefined && t.launch !== true) {
        r.fail(get('launchConfig'), `${path}.launchConfig`, 'only goes with launch: true')
      }
      if (t.launch === true && get('controlPassword') !== undefined) {
        r.fail(get('launch'), `${path}.launch`, `launch: true starts beam's own ${key === 'tor' ? 'tor' : 'anon'}, which uses its own cookie: remove controlPassword`)
      }
      if (key === 'ator') {
        if (get('anonBinary') !== undefined) t.anonBinary = readString(r, get('anonBinary') ?? null, `${path}.anonBinary`, 'a file path')
        out.ator = t
      } else {
        out.tor = t
      }
    } else if (key === 'i2p') {
      const t: I2pBackendConfig = { ...base }
      const sam = f.get('sam')
      if (sam !== undefined) t.sam = readHostPort(r, sam, `${path}.sam`)
      out.i2p = t
    } else {
      const optsNode = f.get('options')
      const options = emptyRecord<unknown>()
      if (optsNode !== undefined) {
        if (optsNode != null && isMap(optsNode)) Object.assign(options, optsNode.toJSON())
        else r.fail(optsNode, `${path}.options`, `expected a map of options, got ${describe(optsNode)}`)
      }
      out.extra[key] = { ...base, options }
    }
  }
  return out
}

/** Enabled backends, lowest priority first (file order breaks ties). */
export function backendOrder (backends: BackendsConfig): string[] {
  const all: Array<[string, BackendSettings]> = []
  for (const name of BUILTIN_BACKENDS) {
    const b = backends[name]
    if (b != null) all.push([name, b])
  }
  for (const [name, b] of Object.entries(backends.extra)) all.push([name, b])
  return all.filter(([, b]) => b.enabled)
    .sort((a, b) => a[1].priority - b[1].priority || a[1].line - b[1].line)
    .map(([name]) => name)
}

function settingsOf (backends: BackendsConfig, name: string): BackendSettings | undefined {
  return name === 'direct' || name === 'tor' || name === 'ator' || name === 'i2p' ? backends[name] : ownEntry(backends.extra, name)
}

/** A tunnel's or connection's `backends:` list, checked against the backends section. */
function readBackendList (r: Reader, node: Node | null | undefined, path: string, backends: BackendsConfig, known: readonly string[]): string[] {
  if (node === undefined) {
    const order = backendOrder(backends)
    return order.length > 0 ? order : ['direct']
  }
  const items = readList(r, node ?? null, path, 'backend names') ?? []
  if (node != null && isSeq(node) && items.length === 0) r.fail(node, path, 'names no backend: list at least one, or leave the key out')
  const out: string[] = []
  items.forEach((item, i) => {
    const q = `${path}[${i}]`
    const name = readString(r, item, q, 'a backend name')
    if (name == null) return
    if (!known.includes(name)) {
      r.fail(item, q, `unknown backend '${name}': ${suggest(name, known)}`)
      return
    }
    if (out.includes(name)) {
      r.fail(item, q, `'${name}' is listed twice`)
      return
    }
    const s = settingsOf(backends, name)
    if (s != null && !s.enabled) {
      r.fail(item, q, `backend '${name}' is disabled (enabled: false at line ${s.line})`)
      return
    }
    out.push(name)
  })
  return out
}

function readStrategy (r: Reader, node: Node | null | undefined, path: string): Strategy {
  return node === undefined ? DEFAULT_STRATEGY : readChoice(r, node, path, STRATEGIES) ?? DEFAULT_STRATEGY
}

function readTunnels (r: Reader, node: Node | null | undefined, backends: BackendsConfig, known: readonly string[]): Record<string, TunnelConfig> {
  const out = emptyRecord<TunnelConfig>()
  for (const { key, keyNode, value } of r.map(node, 'tunnels', 'the tunnels section') ?? []) {
    const path = `tunnels.${key}`
    if (!ENTRY_NAME_RE.test(key)) {
      r.fail(keyNode, path, 'a tunnel name is 1-63 letters, digits, - or _, starting with a letter or digit')
      continue
    }
    const fields = r.map(value, path, `the settings of tunnel '${key}'`, TUNNEL_KEYS)
    if (fields == null) continue
    const f = new Map(fields.map(e => [e.key, e.value]))
    const services: ServiceConfig[] = []
    const portNode = f.get('port')
    const portsNode = f.get('ports')
    if (portNode !== undefined && portsNode !== undefined) {
      r.fail(portsNode, `${path}.ports`, 'use either port or ports, not both')
    } else if (portNode !== undefined) {
      const s = readService(r, portNode, `${path}.port`)
      if (s != null) services.push(s)
    } else if (portsNode !== undefined) {
      const items = readList(r, portsNode, `${path}.ports`, 'ports') ?? []
      if (portsNode != null && isSeq(portsNode) && items.length === 0) r.fail(portsNode, `${path}.ports`, 'is empty: list at least one port')
      items.forEach((item, i) => {
        const s = readService(r, item, `${path}.ports[${i}]`)
        if (s == null) return
        if (services.some(o => o.port === s.port && o.host === s.host)) r.fail(item, `${path}.ports[${i}]`, `port ${s.port} is listed twice`)
        else services.push(s)
      })
    } else {
      r.fail(keyNode, path, 'missing port (or ports): the local port to share')
    }
    const hostNode = f.get('host')
    if (hostNode !== undefined) {
      const host = readString(r, hostNode, `${path}.host`, 'a host name or address')
      if (host != null) {
        for (const s of services) {
          if (s.host != null) r.fail(hostNode, `${path}.host`, `conflicts with '${s.host}:${s.port}': give the host in one place`)
          else s.host = host
        }
      }
    }
    const allowNode = f.get('allow')
    const accessNode = f.get('access')
    let access: AccessMode = allowNode !== undefined ? 'allow' : 'secret'
    if (accessNode !== undefined) access = readChoice(r, accessNode, `${path}.access`, ACCESS_MODES) ?? access
    const allow: string[] = []
    if (allowNode !== undefined) {
      if (access !== 'allow') r.fail(allowNode, `${path}.allow`, `only goes with access: allow (this tunnel has access: ${access})`)
      const items = readList(r, allowNode, `${path}.allow`, 'peer ids') ?? []
      items.forEach((item, i) => {
        const q = `${path}.allow[${i}]`
        const id = readString(r, item, q, 'a peer id')
        if (id == null) return
        try {
          allow.push(parsePeerId(id).toString())
        } catch {
          r.fail(item, q, `'${id}' is not a peer id (12D3Koo…)`)
        }
      })
    }
    if (access === 'allow' && allowNode === undefined) r.fail(accessNode ?? keyNode, `${path}.allow`, 'access: allow needs an allow: list of peer ids')
    if (allowNode != null && isSeq(allowNode) && allowNode.items.length === 0) r.fail(allowNode, `${path}.allow`, 'is empty: list the peer ids that may connect')
    out[key] = {
      name: key,
      services,
      backends: readBackendList(r, f.get('backends'), `${path}.backends`, backends, known),
      strategy: readStrategy(r, f.get('strategy'), `${path}.strategy`),
      access,
      allow,
      line: r.lineOf(keyNode)
    }
  }
  return out
}

function readConnect (r: Reader, node: Node | null | undefined, backends: BackendsConfig, known: readonly string[], tunnels: Record<string, TunnelConfig>): Record<string, ConnectConfig> {
  const out = emptyRecord<ConnectConfig>()
  for (const { key, keyNode, value } of r.map(node, 'connect', 'the connect section') ?? []) {
    const path = `connect.${key}`
    if (!ENTRY_NAME_RE.test(key)) {
      r.fail(keyNode, path, 'a connection name is 1-63 letters, digits, - or _, starting with a letter or digit')
      continue
    }
    const clash = ownEntry(tunnels, key)
    if (clash != null) {
      r.fail(keyNode, path, `the name '${key}' is also a tunnel (line ${clash.line}): 'beam up ${key}' would be ambiguous`)
      continue
    }
    const fields = r.map(value, path, `the settings of connection '${key}'`, CONNECT_KEYS)
    if (fields == null) continue
    const f = new Map(fields.map(e => [e.key, e.value]))
    const targetNode = f.get('target')
    let target = ''
    if (targetNode === undefined) {
      r.fail(keyNode, path, 'missing target: the connect string, peer id or alias to connect to')
    } else {
      target = readString(r, targetNode, `${path}.target`, 'a connect string, peer id or alias') ?? ''
      if (/\s/.test(target)) {
        r.fail(targetNode, `${path}.target`, 'contains spaces')
      } else if (looksLikeConnectString(target)) {
        try {
          decodeConnectString(target)
        } catch (err) {
          r.fail(targetNode, `${path}.target`, (err as Error).message)
        }
      }
    }
    const c: ConnectConfig = {
      name: key,
      target,
      backends: readBackendList(r, f.get('backends'), `${path}.backends`, backends, known),
      strategy: readStrategy(r, f.get('strategy'), `${path}.strategy`),
      line: r.lineOf(keyNode)
    }
    const lp = f.get('localPort')
    if (lp !== undefined) c.localPort = readPort(r, lp, `${path}.localPort`)
    const host = f.get('host')
    if (host !== undefined) c.host = readString(r, host, `${path}.host`, 'a local address')
    const remote = f.get('remote')
    if (remote !== undefined) c.remote = readPort(r, remote, `${path}.remote`)
    out[key] = c
  }
  return out
}

/**
 * Parse and validate a config file's text. `fileName` only labels messages.
 * Throws a `ConfigError` listing every problem, each with its line.
 */
export function parseConfig (text: string, fileName: string, options: ParseConfigOptions = {}): BeamConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' })
  const r = new Reader(fileName, lines, text)
  for (const e of [...doc.errors, ...doc.warnings]) r.at(e.pos[0], '', `YAML: ${e.message.split('\n')[0] ?? e.message}`)
  if (r.issues.length > 0) throw new ConfigError(r.issues)

  let hasAlias = false
  const visit = (n: unknown): void => {
    if (hasAlias || n == null) return
    if (isAlias(n)) {
      hasAlias = true
      r.fail(n, '', 'YAML anchors and aliases (*name) are not supported: write the value out')
    } else if (isMap(n)) {
      for (const p of n.items) { visit(p.key); visit(p.value) }
    } else if (isSeq(n)) {
      for (const i of n.items) visit(i)
    }
  }
  visit(doc.contents)
  if (hasAlias) throw new ConfigError(r.issues)

  const top = r.map(doc.contents, '', 'a map with version, backends, tunnels and connect', TOP_KEYS)
  const t = new Map((top ?? []).map(e => [e.key, e.value]))
  let version = CONFIG_VERSION
  const vNode = t.get('version')
  if (vNode !== undefined) {
    const v = scalar(vNode)
    if (v !== CONFIG_VERSION) r.fail(vNode, 'version', `${describe(vNode)} is not supported: this beam reads version ${CONFIG_VERSION}`)
    else version = v
  }
  const extra = options.extraBackends?.filter(n => !(BUILTIN_BACKENDS as readonly string[]).includes(n)) ?? []
  const known = [...BUILTIN_BACKENDS, ...extra]
  const backends = readBackends(r, t.get('backends'), extra)
  const tunnels = readTunnels(r, t.get('tunnels'), backends, known)
  const connect = readConnect(r, t.get('connect'), backends, known, tunnels)
  if (r.issues.length > 0) {
    r.issues.sort((a, b) => a.line - b.line || a.column - b.column)
    throw new ConfigError(r.issues)
  }
  return { file: fileName, version, backends, tunnels, connect, warnings: [] }
}

/** Read, parse and validate a config file. */
export async function loadConfig (path: string, options: LoadConfigOptions = {}): Promise<BeamConfig> {
  options.signal?.throwIfAborted()
  const whole: ConfigIssue = { file: path, line: 1, column: 1, path: '', message: '' }
  let mode = 0
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new ConfigError([{ ...whole, message: 'not a file' }])
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError([{ ...whole, message: `is ${st.size} bytes: a config file is at most ${MAX_CONFIG_BYTES}` }])
    mode = st.mode
  } catch (err) {
    if (err instanceof ConfigError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError([{ ...whole, message: code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (err as Error).message})` }])
  }
  let text: string
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError([{ ...whole, message: `cannot be read (${code ?? (err as Error).message})` }])
  }
  const config = parseConfig(text, path, options)
  const credentials = credentialsIn(config)
  if (credentials.length > 0 && (mode & 0o077) !== 0) {
    const verb = (mode & 0o044) !== 0 ? 'read' : 'access'
    config.warnings.push(`${path}: holds ${credentials.join(' and ')} but others can ${verb} it (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`)
  }
  return config
}

/** The keys of a config that hold passwords (for the permission warning). */
function credentialsIn (config: BeamConfig): string[] {
  const out: string[] = []
  for (const name of ['tor', 'ator'] as const) {
    if (config.backends[name]?.controlPassword != null) out.push(`backends.${name}.controlPassword`)
  }
  if (config.backends.direct?.iceServers?.some(s => s.credential != null) === true) out.push('backends.direct.iceServers credentials')
  return out
}

export interface FindConfigOptions {
  /** The `--config FILE` flag, if given. @default none */
  flag?: string
  /** beam's home directory (`beamHome()`). Required. */
  home: string
  /** @default a synchronous stat: is it a file? */
  exists?: (path: string) => boolean
}

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}

/**
 * Which config file to use: `--config FILE` when given (it must exist: the
 * loader says so otherwise), else `BEAM_HOME/beam.config.yaml` when it
 * exists, else none. The current directory is never read implicitly: a
 * config decides which networks carry traffic and who may connect, so a file
 * that happens to sit in a cloned repository must not change that unasked.
 */
export function findConfigFile (options: FindConfigOptions): { path: string, source: 'flag' | 'home' } | undefined {
  if (options.flag != null && options.flag !== '') return { path: options.flag, source: 'flag' }
  const p = join(options.home, CONFIG_FILE_NAME)
  return (options.exists ?? isFile)(p) ? { path: p, source: 'home' } : undefined
}

/** The issue for a name that the file does not define, with a suggestion. */
function missingName (config: BeamConfig, kind: string, name: string, names: string[]): ConfigError {
  const hint = names.length === 0 ? `the file defines none` : suggest(name, names)
  return new ConfigError([{ file: config.file, line: 1, column: 1, path: '', message: `no ${kind} named '${name}': ${hint}` }])
}

/** A tunnel (share) by name, for `beam up NAME`; a ConfigError if absent. */
export function getTunnel (config: BeamConfig, name: string): TunnelConfig {
  const t = ownEntry(config.tunnels, name)
  if (t == null) throw missingName(config, 'tunnel', name, Object.keys(config.tunnels))
  return t
}

/** What `beam up NAME` starts: a share or a connection. */
export function resolveName (config: BeamConfig, name: string): { kind: 'tunnel', tunnel: TunnelConfig } | { kind: 'connect', connect: ConnectConfig } {
  const t = ownEntry(config.tunnels, name)
  if (t != null) return { kind: 'tunnel', tunnel: t }
  const c = ownEntry(config.connect, name)
  if (c != null) return { kind: 'connect', connect: c }
  throw missingName(config, 'tunnel or connection', name, [...Object.keys(config.tunnels), ...Object.keys(config.connect)])
}
