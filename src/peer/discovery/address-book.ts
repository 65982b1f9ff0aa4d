import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Peers remembered at most; the least recently seen are forgotten first. */
export const ADDRESS_BOOK_LIMIT = 256

interface Entry { multiaddrs: string[], seen: number }
interface BookFile { version: 1, peers: Record<string, Entry> }

/**
 * Addresses of peers this machine has reached or shared as, kept in a small
 * JSON file, so that `beam connect <peer-id>` works without a connect string
 * for a peer seen before (or shared from this machine). Unreadable or corrupt
 * files count as empty: it is a cache, never a source of truth.
 */
export class AddressBook {
  /** The JSON file. */
  readonly path: string
  private readonly keep: (ma: Multiaddr) => boolean

  /**
   * `options.keep` says which addresses may be read from or written to the
   * file (an anonymous-only node keeps those its backends carry).
   * @default every address
   */
  constructor (path: string, options: { keep?: (ma: Multiaddr) => boolean } = {}) {
    this.path = path
    this.keep = options.keep ?? (() => true)
  }

  /** The addresses remembered for a peer ([] if none). */
  async get (peerId: string): Promise<Multiaddr[]> {
    const book = await this.read()
    const entry = book.peers[peerId]
    if (entry == null) return []
    const out: Multiaddr[] = []
    for (const text of entry.multiaddrs) {
      try {
        const ma = multiaddr(text)
        if (this.keep(ma)) out.push(ma)
      } catch {}
    }
    return out
  }

  /** Remember (replace) the addresses of a peer. Errors are the caller's to ignore: it is a cache. */
  async put (peerId: string, all: Multiaddr[]): Promise<void> {
    const addrs = all.filter(ma => this.keep(ma))
    if (addrs.length === 0) return
    const book = await this.read()
    book.peers[peerId] = { multiaddrs: addrs.map(a => a.toString()), seen: Date.now() }
    const ids = Object.keys(book.peers)
    if (ids.length > ADDRESS_BOOK_LIMIT) {
      ids.sort((a, b) => (book.peers[a]?.seen ?? 0) - (book.peers[b]?.seen ?? 0))
      for (const id of ids.slice(0, ids.length - ADDRESS_BOOK_LIMIT)) Reflect.deleteProperty(book.peers, id)
    }
    await this.write(book)
  }

  /**
   * Forget the peers last seen before `before` (ms since the epoch) and
   * return their ids; with `dryRun`, only say which.
   */
  async prune (before: number, options: { dryRun?: boolean } = {}): Promise<string[]> {
    const book = await this.read()
    const old = Object.keys(book.peers).filter(id => (book.peers[id]?.seen ?? 0) < before)
    if (old.length === 0 || options.dryRun === true) return old
    for (const id of old) Reflect.deleteProperty(book.peers, id)
    await this.write(book)
    return old
  }

  private async write (book: BookFile): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, JSON.stringify(book, null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.path)
  }

  private async read (): Promise<BookFile> {
    try {
      const data = JSON.parse(await readFile(this.path, 'utf8')) as Partial<BookFile>
      if (data.version === 1 && data.peers != null && typeof data.peers === 'object') return data as BookFile
    } catch {}
    return { version: 1, peers: {} }
  }
}
