/**
 * Reading a config file: which file (`--config FILE`, else
 * `$BEAM_HOME/beam.config.yaml`), its size and mode, the YAML text, and
 * the whole document checked at once into a `BeamConfig` or a `ConfigError`
 * whose every issue names the file and line.
 */
import { readFile, stat } from 'node:fs/promises'
import { statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { isAlias, isMap, isSeq, LineCounter, parseDocument } from 'yaml'
import { BUILTIN_BACKENDS, CONFIG_FILE_NAME, CONFIG_VERSION, ConfigError, MAX_CONFIG_BYTES, TOP_KEYS } from './schema.ts'
import type { BeamConfig, ConfigIssue, LoadConfigOptions, ParseConfigOptions } from './schema.ts'
import { readBackends } from './backends-section.ts'
import { readConnect } from './connect-section.ts'
import { readTunnels } from './tunnels-section.ts'
import { describe, readDashboard, Reader, scalar } from './yaml-check.ts'

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

  const top = r.map(doc.contents, '', 'a map with version, backends, tunnels, connect and dashboard', TOP_KEYS)
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
  const tunnels = readTunnels(r, t.get('tunnels'), backends, known, dirname(resolve(fileName)))
  const connect = readConnect(r, t.get('connect'), backends, known, tunnels)
  const dashboardNode = t.get('dashboard')
  const dashboard = dashboardNode !== undefined ? readDashboard(r, dashboardNode, 'dashboard') : undefined
  if (r.issues.length > 0) {
    r.issues.sort((a, b) => a.line - b.line || a.column - b.column)
    throw new ConfigError(r.issues)
  }
  return { file: fileName, version, backends, tunnels, connect, ...(dashboard != null ? { dashboard } : {}), warnings: [] }
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

