/**
 * What `beam export`, `beam import` and `beam migrate` share: which key
 * files a named tunnel runs with, the exported payload, and writing an entry
 * of `tunnels:` back into the config file (comments and order kept, the
 * result checked as loading checks it before it replaces the file).
 */
import { randomBytes } from 'node:crypto'
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, isAbsolute } from 'node:path'
import { Document, parseDocument } from 'yaml'
import { parseIdentity } from '../peer/index.ts'
import { parseConfig, CONFIG_FILE_NAME } from './config/index.ts'
import type { BeamConfig, TunnelConfig } from './config/index.ts'
import { anonymousPaths, homePaths } from './home.ts'
import { SealedFileError } from './sealed-file.ts'

/** The key files a named tunnel runs with: its own (`identity:`/`secret:`), else those of its backends. */
export function tunnelKeyFiles (home: string, tunnel: Pick<TunnelConfig, 'backends' | 'identity' | 'secret'>): { identity: string, secret: string } {
  const anonymous = tunnel.backends.length > 0 && !tunnel.backends.includes('direct')
  const own = anonymous ? anonymousPaths(home, tunnel.backends) : homePaths(home)
  return { identity: tunnel.identity ?? own.identity, secret: tunnel.secret ?? own.secret }
}

/** The content of an export file, before sealing. */
export interface TunnelExport {
  kind: 'beam-tunnel'
  version: 1
  /** The tunnel's name where it was exported. */
  name: string
  /** Its entry of `tunnels:`, as YAML would hold it (services, backends, strategy, access, allow). */
  entry: Record<string, unknown>
  /** The identity file's text. */
  identity: string
  /** The access secret (64 hex digits), or null when the tunnel has none yet or needs none. */
  secret: string | null
}

/** A tunnel's entry as YAML holds it, without key files (they are carried, not pointed at). */
export function entryOf (t: TunnelConfig): Record<string, unknown> {
  const services = t.services.map(s => s.host != null ? `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}` : s.port)
  return {
    ...(services.length === 1 ? { port: services[0] } : { ports: services }),
    backends: t.backends,
    strategy: t.strategy,
    access: t.access,
    ...(t.access === 'allow' ? { allow: t.allow } : {})
  }
}

/** Parse an opened export (its JSON) back, checking what import relies on. */
export function parseTunnelExport (bytes: Uint8Array): TunnelExport {
  let o: unknown
  try {
    o = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw new SealedFileError('the export file opened but holds no tunnel (not JSON)', 'format')
  }
  const e = o as Partial<TunnelExport> | null
  if (e == null || typeof e !== 'object' || e.kind !== 'beam-tunnel' || e.version !== 1 || typeof e.name !== 'string' ||
    typeof e.identity !== 'string' || (e.secret !== null && (typeof e.secret !== 'string' || !/^[0-9a-f]{64}$/.test(e.secret))) ||
    e.entry == null || typeof e.entry !== 'object' || Array.isArray(e.entry)) {
    throw new SealedFileError('the export file opened but does not hold a beam tunnel of a known version', 'format')
  }
  parseIdentity(e.identity, 'in the export file')
  return e as TunnelExport
}

/** The config file a command edits: `--config FILE`, else `$BEAM_HOME/beam.config.yaml` (which may not exist yet). */
export function configPath (flag: string | undefined, home: string): string {
  return flag != null && flag !== '' ? flag : join(home, CONFIG_FILE_NAME)
}

/** A path as the config file should hold it: relative to the file's directory when inside it, else absolute. */
export function pathForConfig (file: string, configFile: string): string {
  const rel = relative(dirname(configFile), file)
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel
}

/**
 * Set `tunnels.<name>` (whole entry, or one key of it) in the config file and
 * write it back atomically with its mode (0600 for a new file), once the new
 * text passes the same checks as loading. Throws the loader's ConfigError.
 */
export async function writeTunnelEntry (file: string, name: string, value: unknown, options: { key?: string, extraBackends?: string[] } = {}): Promise<BeamConfig> {
  let text: string | undefined
  let mode = 0o600
  try {
    text = await readFile(file, 'utf8')
    mode = (await stat(file)).mode & 0o777
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const doc = text != null ? parseDocument(text) : new Document({})
  doc.setIn(options.key != null ? ['tunnels', name, options.key] : ['tunnels', name], doc.createNode(value, { flow: false }))
  const next = doc.toString()
  const config = parseConfig(next, file, { extraBackends: options.extraBackends ?? [] })
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, next, { mode, flag: 'wx' })
  await chmod(tmp, mode)
  await rename(tmp, file)
  return config
}
