import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SHARE_NAME_RE } from './discovery.ts'

/** A petname file that cannot be read as one. */
export class AliasFileError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'AliasFileError'
  }
}

/** An alias name that breaks the rules, or one that does not exist. */
export class InvalidAliasError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidAliasError'
  }
}

/**
 * The file in memory. A Map, never a plain object: alias names are what the
 * user types, and `constructor` or `__proto__` must be names like any other,
 * not Object.prototype's members.
 */
interface AliasFile { version: 1, aliases: Map<string, string> }

/**
 * Local petnames (`beam alias add myapp <peer id or connect string>`): names
 * that only this machine knows, resolved before anything else and offline.
 * Unlike the address book this is the user's data: a damaged file is an
 * error, never silently emptied.
 */
export class Aliases {
  /** The alias file. */
  readonly path: string
  constructor (path: string) {
    this.path = path
  }

  /** Every alias and its target. Throws AliasFileError for a damaged file. */
  async list (): Promise<Record<string, string>> {
    return Object.fromEntries((await this.read()).aliases)
  }

  /** The target of an alias, or undefined. */
  async get (name: string): Promise<string | undefined> {
    return (await this.read()).aliases.get(name)
  }

  /** Set (or replace) an alias. Throws InvalidAliasError for a bad name. */
  async set (name: string, target: string): Promise<void> {
    if (!SHARE_NAME_RE.test(name)) throw new InvalidAliasError(`invalid alias '${name}': use 1-63 of a-z, 0-9 and '-' (not at either end)`)
    const file = await this.read()
    file.aliases.set(name, target)
    await this.write(file)
  }

  /** Remove an alias; throws InvalidAliasError if there is none. */
  async remove (name: string): Promise<void> {
    const file = await this.read()
    if (!file.aliases.delete(name)) throw new InvalidAliasError(`no alias '${name}'`)
    await this.write(file)
  }

  private async read (): Promise<AliasFile> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, aliases: new Map() }
      throw new AliasFileError(`cannot read ${this.path}: ${(err as Error).message}`)
    }
    let data: unknown
    try { data = JSON.parse(text) } catch { throw new AliasFileError(`${this.path} is not valid JSON; fix or remove it`) }
    const f = data as { version?: unknown, aliases?: unknown }
    if (f.version !== 1 || f.aliases == null || typeof f.aliases !== 'object' || Array.isArray(f.aliases) || Object.values(f.aliases).some(v => typeof v !== 'string')) {
      throw new AliasFileError(`${this.path} is not a beam alias file (expected {"version":1,"aliases":{name: target}})`)
    }
    // JSON.parse makes every key an own property (`__proto__` too): entries are safe to copy
    return { version: 1, aliases: new Map(Object.entries(f.aliases as Record<string, string>)) }
  }

  private async write (file: AliasFile): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`
    const json = { version: file.version, aliases: Object.fromEntries(file.aliases) }
    await writeFile(tmp, JSON.stringify(json, null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.path)
  }
}
