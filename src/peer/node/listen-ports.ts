import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'

/**
 * A node that listens on "any port" (`/tcp/0`, `/udp/0/quic-v1`) gets new
 * ports each start, and every connect string it handed out names the old
 * ones. With a port file (BeamInit.listenPorts) the ports bound last time are
 * remembered per peer id and asked for again at the next start; a port that
 * another socket holds now is given up for a fresh one, and the node says so
 * ({@link ListenMove}).
 */

/** Peer ids remembered at most; the least recently started are forgotten first. */
export const LISTEN_PORTS_LIMIT = 64

/** A listen address that could not get its remembered port. */
export interface ListenMove {
  /** The listen address with the remembered port, e.g. `/ip4/0.0.0.0/tcp/4001`. */
  was: string
  /** The listen address as bound now, e.g. `/ip4/0.0.0.0/tcp/41237`. */
  now: string
  /** Why the remembered port was not used (e.g. `address in use`). */
  reason: string
}

interface Entry { ports: Record<string, number>, seen: number }
interface PortsFile { version: 1, peers: Record<string, Entry> }

/** The ports file: for each peer id, the port each any-port listen address was bound to. */
export class ListenPortBook {
  /** The JSON file. */
  readonly path: string

  constructor (path: string) {
    this.path = path
  }

  /** The remembered port of each listen address (by its any-port form) of a peer; {} if none. */
  async get (peerId: string): Promise<Record<string, number>> {
    const entry = (await this.read()).peers[peerId]
    const out: Record<string, number> = {}
    for (const [k, v] of Object.entries(entry?.ports ?? {})) if (Number.isInteger(v) && v > 0 && v < 65536) out[k] = v
    return out
  }

  /** Remember the ports of a peer (replacing what was there). */
  async put (peerId: string, ports: Record<string, number>): Promise<void> {
    if (Object.keys(ports).length === 0) return
    const book = await this.read()
    book.peers[peerId] = { ports, seen: Date.now() }
    const ids = Object.keys(book.peers)
    if (ids.length > LISTEN_PORTS_LIMIT) {
      ids.sort((a, b) => (book.peers[a]?.seen ?? 0) - (book.peers[b]?.seen ?? 0))
      for (const id of ids.slice(0, ids.length - LISTEN_PORTS_LIMIT)) Reflect.deleteProperty(book.peers, id)
    }
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, JSON.stringify(book, null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.path)
  }

  private async read (): Promise<PortsFile> {
    try {
      const data = JSON.parse(await readFile(this.path, 'utf8')) as Partial<PortsFile>
      if (data.version === 1 && data.peers != null && typeof data.peers === 'object') return data as PortsFile
    } catch {}
    return { version: 1, peers: {} }
  }
}

/** How an any-port listen address binds: IP family, host, and TCP or QUIC. */
interface PortShape { family: 'ip4' | 'ip6', host: string, proto: 'tcp' | 'quic' }

/**
 * The shape of a listen address whose port this module manages: plain TCP
 * or QUIC-v1 on an IP address (no WebSockets, WebTransport or WebRTC on top,
 * no peer id). Undefined for any other address.
 */
function shapeOf (ma: Multiaddr): PortShape & { port: number } | undefined {
  const c = ma.getComponents()
  const ip = c[0]
  if ((ip?.name !== 'ip4' && ip?.name !== 'ip6') || ip.value == null) return undefined
  const names = c.map(x => x.name).join('/')
  const family = ip.name
  if (names === `${family}/tcp`) return { family, host: ip.value, proto: 'tcp', port: Number(c[1]?.value) }
  if (names === `${family}/udp/quic-v1`) return { family, host: ip.value, proto: 'quic', port: Number(c[1]?.value) }
  return undefined
}

/** The listen address with another port. */
export function withPort (template: string, port: number): string {
  const ma = multiaddr(template)
  const c = ma.getComponents()
  const shape = shapeOf(ma)
  if (shape == null) return template
  return `/${c[0]?.name ?? ''}/${c[0]?.value ?? ''}/${shape.proto === 'tcp' ? 'tcp' : 'udp'}/${port}${shape.proto === 'quic' ? '/quic-v1' : ''}`
}

/** Whether `template` is an any-port address this module manages. */
export function isAnyPort (template: string): boolean {
  try {
    return shapeOf(multiaddr(template))?.port === 0
  } catch {
    return false
  }
}

/**
 * Whether the address can be bound now: a short test bind, as the transports
 * bind (TCP with SO_REUSEADDR, so a socket of the last run in TIME_WAIT does
 * not count; IPv6 only on IPv6 addresses). Resolves the error code when not.
 */
export async function bindable (address: string): Promise<string | undefined> {
  const shape = shapeOf(multiaddr(address))
  if (shape == null) return undefined
  const ipv6Only = shape.family === 'ip6'
  return await new Promise<string | undefined>(resolve => {
    if (shape.proto === 'tcp') {
      const server = createServer()
      server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
      server.listen({ host: shape.host, port: shape.port, ipv6Only, exclusive: true }, () => { server.close(() => { resolve(undefined) }) })
    } else {
      const socket = createSocket({ type: shape.family === 'ip6' ? 'udp6' : 'udp4', ipv6Only })
      socket.once('error', (err: NodeJS.ErrnoException) => { socket.close(); resolve(err.code ?? err.message) })
      socket.bind({ address: shape.host, port: shape.port, exclusive: true }, () => { socket.close(() => { resolve(undefined) }) })
    }
  })
}

/** What {@link rememberedListen} decided. */
export interface ListenPlan {
  /** The listen addresses to use: any-port ones with their remembered port when it is free. */
  listen: string[]
  /** Any-port addresses that got their remembered port, by that address. */
  reused: Map<string, string>
  /** Remembered ports that are taken now (`now` is filled in once bound). */
  moved: Array<{ template: string, was: string, reason: string }>
}

/** Readable form of a bind error code. */
function bindReason (code: string): string {
  if (code === 'EADDRINUSE') return 'address in use'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EADDRNOTAVAIL') return 'address not available'
  return code
}

/**
 * The listen addresses of a start: each any-port address with the port it
 * had last time (`remembered`, keyed by the any-port address) when that port
 * can be bound now, else left at port 0 and listed in `moved`.
 */
export async function rememberedListen (listen: string[], remembered: Record<string, number>): Promise<ListenPlan> {
  const plan: ListenPlan = { listen: [], reused: new Map(), moved: [] }
  for (const template of listen) {
    const port = isAnyPort(template) ? remembered[template] : undefined
    if (port == null) { plan.listen.push(template); continue }
    const address = withPort(template, port)
    const err = await bindable(address)
    if (err == null) {
      plan.listen.push(address)
      plan.reused.set(address, template)
    } else {
      plan.listen.push(template)
      plan.moved.push({ template, was: address, reason: bindReason(err) })
    }
  }
  return plan
}

/**
 * The port each any-port listen address was bound to, from the addresses the
 * listeners report (a wildcard host is reported once per interface, all on
 * one port): the first listener address of the same family and transport
 * whose host is the template's, or any host for a wildcard template.
 */
export function boundPorts (templates: string[], listening: Multiaddr[]): Record<string, number> {
  const out: Record<string, number> = {}
  const bound = listening.map(ma => shapeOf(ma.getComponents().at(-1)?.name === 'p2p' ? ma.decapsulateCode(421) : ma)).filter(s => s != null)
  for (const t of templates) {
    if (!isAnyPort(t)) continue
    const want = shapeOf(multiaddr(t))
    if (want == null) continue
    const wildcard = want.host === '0.0.0.0' || want.host === '::'
    const hit = bound.find(b => b.family === want.family && b.proto === want.proto && (wildcard || b.host === want.host) && b.port > 0)
    if (hit != null) out[t] = hit.port
  }
  return out
}

/** What a node needs to remember its ports once it listens. */
export interface ListenPortsMemory {
  /** The ports file. */
  book: ListenPortBook
  /** The node's peer id (the file's key). */
  peerId: string
  /** The node's listen addresses as configured (any-port ones with port 0). */
  templates: string[]
  /** Remembered ports that were taken at this start. */
  moved: Array<{ template: string, was: string, reason: string }>
}

/**
 * Once the node listens: write the bound ports to the file and return the
 * moves with the address each got instead. Writing errors are the caller's
 * to log: the file is a convenience, not a source of truth.
 */
export async function rememberPorts (memory: ListenPortsMemory, listening: Multiaddr[]): Promise<{ moved: ListenMove[], error?: Error }> {
  const bound = boundPorts(memory.templates, listening)
  const moved = memory.moved.map(m => ({ was: m.was, now: bound[m.template] != null ? withPort(m.template, bound[m.template] ?? 0) : m.template, reason: m.reason }))
  try {
    await memory.book.put(memory.peerId, bound)
    return { moved }
  } catch (err) {
    return { moved, error: err as Error }
  }
}

/** {@link rememberPorts}, with a warning per listen address that did not get its port back; returns the moves. */
export async function rememberAndWarn (memory: ListenPortsMemory, listening: Multiaddr[], log: Pick<Logger, 'warn'>): Promise<ListenMove[]> {
  const { moved, error } = await rememberPorts(memory, listening)
  for (const m of moved) log.warn({ was: m.was, now: m.now, reason: m.reason }, `listening on ${m.now} instead of ${m.was} (${m.reason}): addresses handed out before name the old port`)
  if (error != null) log.warn({ file: memory.book.path, err: error.message }, 'cannot remember the listen ports')
  return moved
}
