import { readFile, rename, writeFile } from 'node:fs/promises'

/** How long a claimed name stays bound to its share's key after the share was last online, in ms (30 days). */
export const DEFAULT_NAME_IDLE = 30 * 24 * 3600_000

/** One claim: a name bound to a peer id, with the signature the share made. */
export interface NameClaim {
  name: string
  peerId: string
  /** When it was claimed (the signed time), ms. */
  at: number
  /** base64 signature over claimBytes(gateway, name, at). */
  sig: string
  /** When the share was last online, ms. */
  seen: number
}

/** Options of a {@link NameStore}. */
export interface NameStoreInit {
  /** JSON file the claims are kept in. @default unset (kept in memory only) */
  file?: string | undefined
  /** Idle period after which a name is released, in ms. @default 30 days */
  idle?: number | undefined
  /** The clock. @default Date.now */
  now?: () => number
}

/**
 * Short names on one gateway: first come, first served, bound to the key
 * that claimed them, released when their share has not been online for the
 * idle period. A share holds at most one name; claiming another releases
 * its old one.
 */
export class NameStore {
  private readonly byName = new Map<string, NameClaim>()
  private readonly file: string | undefined
  readonly idle: number
  private readonly now: () => number
  private writing: Promise<void> = Promise.resolve()

  constructor (init: NameStoreInit = {}) {
    this.file = init.file
    this.idle = init.idle ?? DEFAULT_NAME_IDLE
    this.now = init.now ?? Date.now
  }

  /** Read the file (a missing one is an empty store). Throws on a file that is not a claim list. */
  async load (): Promise<void> {
    if (this.file == null) return
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const data = JSON.parse(text) as { claims?: NameClaim[] }
    if (!Array.isArray(data.claims)) throw new Error(`${this.file} holds no claim list`)
    for (const c of data.claims) {
      if (typeof c.name === 'string' && typeof c.peerId === 'string' && typeof c.seen === 'number') this.byName.set(c.name, c)
    }
    this.expire()
  }

  /** The peer id holding `name`, if it is held and not idle past the period. */
  owner (name: string): string | undefined {
    const c = this.byName.get(name)
    if (c == null) return undefined
    if (this.now() - c.seen > this.idle) {
      this.byName.delete(name)
      void this.save()
      return undefined
    }
    return c.peerId
  }

  /** The name a peer holds, if any. */
  nameOf (peerId: string): string | undefined {
    for (const c of this.byName.values()) if (c.peerId === peerId && this.owner(c.name) === peerId) return c.name
    return undefined
  }

  /** Claim `name` for `peerId`: true when it is now theirs, false when another peer holds it. */
  async claim (claim: Omit<NameClaim, 'seen'>): Promise<boolean> {
    const holder = this.owner(claim.name)
    if (holder != null && holder !== claim.peerId) return false
    for (const [n, c] of this.byName) if (c.peerId === claim.peerId && n !== claim.name) this.byName.delete(n)
    const kept = holder != null ? this.byName.get(claim.name) : undefined
    this.byName.set(claim.name, kept ?? { ...claim, seen: this.now() })
    await this.touch(claim.peerId)
    return true
  }

  /** Mark a peer online now (its name's idle period starts again). */
  async touch (peerId: string): Promise<void> {
    let changed = false
    for (const c of this.byName.values()) if (c.peerId === peerId) { c.seen = this.now(); changed = true }
    if (changed) await this.save()
  }

  /** Drop claims idle past the period. */
  expire (): void {
    for (const name of [...this.byName.keys()]) this.owner(name)
  }

  /** Claims held now. */
  get size (): number { return this.byName.size }

  private async save (): Promise<void> {
    const file = this.file
    if (file == null) return
    const body = JSON.stringify({ claims: [...this.byName.values()] }, null, 2) + '\n'
    this.writing = this.writing.then(async () => {
      const tmp = `${file}.tmp`
      await writeFile(tmp, body, { mode: 0o600 })
      await rename(tmp, file)
    }).catch(() => {})
    await this.writing
  }
}
