/**
 * The `backends:` section: each backend's priority, whether it is enabled,
 * and its own settings; and the `backends:` list of a tunnel or connection,
 * checked against that section.
 */
import { isMap, isScalar, isSeq } from 'yaml'
import type { Node } from 'yaml'
import { parsePeerMultiaddr } from '../../peer/index.ts'
import { BACKEND_KEYS, BUILTIN_BACKENDS, DEFAULT_PRIORITY, DEFAULT_STRATEGY, EXTRA_BACKEND_KEYS, ICE_KEYS, STRATEGIES } from './schema.ts'
import type { AtorBackendConfig, BackendSettings, BackendsConfig, DirectBackendConfig, I2pBackendConfig, IceServerConfig, Strategy, TorBackendConfig } from './schema.ts'
import { ownEntry } from './lookup.ts'
import { suggest } from './suggest.ts'
import { describe, emptyRecord, readBool, readChoice, readHostPort, readInt, readList, readPort, readString } from './yaml-check.ts'
import type { Reader } from './yaml-check.ts'

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

export function readBackends (r: Reader, node: Node | null | undefined, extra: readonly string[]): BackendsConfig {
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
      const publicStun = f.get('publicStun')
      if (publicStun !== undefined) d.publicStun = readBool(r, publicStun, `${path}.publicStun`)
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
export function readBackendList (r: Reader, node: Node | null | undefined, path: string, backends: BackendsConfig, known: readonly string[]): string[] {
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

export function readStrategy (r: Reader, node: Node | null | undefined, path: string): Strategy {
  return node === undefined ? DEFAULT_STRATEGY : readChoice(r, node, path, STRATEGIES) ?? DEFAULT_STRATEGY
}

