import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BootstrapConfigError, InvalidMultiaddrError } from '../errors.ts'

/** Format version of bootstrap-nodes.json that this beam reads. */
export const BOOTSTRAP_FILE_VERSION = 1

/**
 * The bootstrap-nodes.json shipped with the package: the nearest one above
 * this module. The module sits at a different depth in the sources
 * (src/peer/discovery/), the compiled package (dist/peer/discovery/) and the
 * CLI bundle (dist/bundle/), so the file is searched for, a few levels at most.
 */
export const DEFAULT_BOOTSTRAP_FILE = findUp('bootstrap-nodes.json', dirname(fileURLToPath(import.meta.url)), 5)

function findUp (name: string, from: string, levels: number): string {
  let dir = from
  for (let i = 0; i < levels; i++) {
    const candidate = join(dir, name)
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  // not found: reading it later reports the missing file by this path
  return join(from, name)
}

/** What a bootstrap-list entry is for: a DHT entry point, a relay, or both. */
export type BootstrapRole = 'bootstrap' | 'relay'

/** One entry of a bootstrap list. */
export interface BootstrapNode {
  /** Its address, with `/p2p/<peer id>`. */
  multiaddr: Multiaddr
  /** What it is used for. */
  roles: BootstrapRole[]
  /** UDP port of the node's STUN responder, if it runs one (relays do, on 3478 by default). */
  stunPort?: number
  /**
   * Which network the node belongs to, as the file says: `amino` (the public
   * libp2p/IPFS DHT, bootstrap only) or `beam` (a node run for beam).
   * Informational: roles decide what beam does with it. @default unset
   */
  network?: string
  /** A free-text note from the file (who runs it, its host name). @default unset */
  note?: string
}

/** A `network` value: a short lowercase word. */
const NETWORK_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/
/** Longest `note` kept, in characters. */
const MAX_NOTE = 200

/** A parsed bootstrap file. */
export interface BootstrapList {
  /** The usable entries. */
  nodes: BootstrapNode[]
  /** Entries that were dropped, each with the reason. */
  dropped: Array<{
    /** The entry as found in the file. */
    entry: unknown
    /** Why it was dropped. */
    reason: string
  }>
}

/**
 * Parse a multiaddr that must end in /p2p/<peer id> (a bootstrap or relay
 * node is useless without its identity).
 */
export function parsePeerMultiaddr (text: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch (err) {
    throw new InvalidMultiaddrError(`'${text}' is not a valid multiaddr`, err)
  }
  if (ma.getComponents().findLast(c => c.name === 'p2p') == null) {
    throw new InvalidMultiaddrError(`'${text}' has no /p2p/<peer-id> part`)
  }
  return ma
}

/**
 * Validate the text of a bootstrap file. Bad entries are dropped (and
 * reported in `dropped`); a file that is not JSON, or of another version, is
 * an error.
 */
export function parseBootstrapFile (text: string, source = 'bootstrap-nodes.json'): BootstrapList {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new BootstrapConfigError(`${source} is not valid JSON`, err)
  }
  if (data == null || typeof data !== 'object' || Array.isArray(data)) {
    throw new BootstrapConfigError(`${source} must hold a JSON object`)
  }
  const obj = data as { version?: unknown, nodes?: unknown }
  if (obj.version !== BOOTSTRAP_FILE_VERSION) {
    throw new BootstrapConfigError(`${source} has version ${String(obj.version)}; this beam reads version ${BOOTSTRAP_FILE_VERSION}`)
  }
  if (!Array.isArray(obj.nodes)) {
    throw new BootstrapConfigError(`${source} has no "nodes" array`)
  }
  const list: BootstrapList = { nodes: [], dropped: [] }
  for (const entry of obj.nodes as unknown[]) {
    const e = entry as { multiaddr?: unknown, roles?: unknown, stunPort?: unknown, network?: unknown, note?: unknown }
    if (typeof e?.multiaddr !== 'string') {
      list.dropped.push({ entry, reason: 'no "multiaddr" string' })
      continue
    }
    let ma: Multiaddr
    try {
      ma = parsePeerMultiaddr(e.multiaddr)
    } catch (err) {
      list.dropped.push({ entry, reason: (err as Error).message })
      continue
    }
    const roles = Array.isArray(e.roles) ? e.roles.filter((r): r is BootstrapRole => r === 'bootstrap' || r === 'relay') : ['bootstrap' as const]
    const node: BootstrapNode = { multiaddr: ma, roles: roles.length > 0 ? roles : ['bootstrap'] }
    if (e.stunPort != null) {
      if (typeof e.stunPort !== 'number' || !Number.isInteger(e.stunPort) || e.stunPort < 1 || e.stunPort > 65535) {
        list.dropped.push({ entry, reason: '"stunPort" must be a port number' })
        continue
      }
      node.stunPort = e.stunPort
    }
    if (e.network != null) {
      if (typeof e.network !== 'string' || !NETWORK_NAME.test(e.network)) {
        list.dropped.push({ entry, reason: '"network" must be a short lowercase name such as "amino" or "beam"' })
        continue
      }
      node.network = e.network
    }
    if (typeof e.note === 'string') node.note = e.note.slice(0, MAX_NOTE)
    list.nodes.push(node)
  }
  // an empty list is a choice (no public node yet); a list with nothing usable is a mistake
  if (list.nodes.length === 0 && list.dropped.length > 0) {
    throw new BootstrapConfigError(`${source}: every entry was dropped (${list.dropped.map(d => d.reason).slice(0, 3).join('; ')})`)
  }
  return list
}

/** Read and validate a bootstrap file. */
export async function loadBootstrapFile (path: string = DEFAULT_BOOTSTRAP_FILE): Promise<BootstrapList> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new BootstrapConfigError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err)
  }
  return parseBootstrapFile(text, path)
}

/**
 * STUN servers implied by relay nodes: the relay's IP address and its STUN
 * port (3478 unless the entry says otherwise). DNS names are skipped: ICE
 * would resolve them, and beam makes no DNS query on its own behalf here.
 */
export function stunServersOf (nodes: Array<{ multiaddr: Multiaddr, roles?: BootstrapRole[], stunPort?: number }>, defaultPort = 3478): string[] {
  const out = new Set<string>()
  for (const n of nodes) {
    if (n.roles != null && !n.roles.includes('relay')) continue
    const c = n.multiaddr.getComponents()[0]
    if (c?.name === 'ip4') out.add(`stun:${c.value ?? ''}:${n.stunPort ?? defaultPort}`)
    else if (c?.name === 'ip6') out.add(`stun:[${c.value ?? ''}]:${n.stunPort ?? defaultPort}`)
  }
  return [...out]
}
