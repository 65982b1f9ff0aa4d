/**
 * `beam config get|set|list`: keys of the config file as dotted paths
 * (`tunnels.web.access`, `tunnels.web.services.0`). A set edits the YAML
 * document in place (comments and order stay) and is checked by the same
 * parser as loading, so a value the loader would refuse is never written.
 */
import { isCollection, isScalar, parseDocument } from 'yaml'
import { parseConfig } from './load.ts'
import { CONFIG_VERSION, ConfigError } from './schema.ts'
import type { ParseConfigOptions } from './schema.ts'

/** A dotted key, split: `a.b.0` → ['a', 'b', 0]. Throws ConfigError on an empty part. */
export function splitKey (key: string, file: string): Array<string | number> {
  const parts = key.split('.')
  if (key === '' || parts.some(p => p === '')) throw new ConfigError([{ file, line: 1, column: 1, path: key, message: 'not a key: expected dotted names such as tunnels.web.access' }])
  return parts.map(p => /^\d+$/.test(p) ? Number(p) : p)
}

function documentOf (text: string, file: string): ReturnType<typeof parseDocument> {
  const doc = parseDocument(text === '' ? `version: ${CONFIG_VERSION}\n` : text, { uniqueKeys: true, version: '1.2' })
  if (doc.errors.length > 0) throw new ConfigError([{ file, line: 1, column: 1, path: '', message: `YAML: ${doc.errors[0]?.message.split('\n')[0] ?? 'invalid'}` }])
  return doc
}

/** The value at `key` as plain data, or undefined when the file has no such key. */
export function getConfigValue (text: string, file: string, key: string): unknown {
  const doc = documentOf(text, file)
  const node: unknown = doc.getIn(splitKey(key, file), true)
  if (node == null) return undefined
  if (isScalar(node)) return node.value
  if (isCollection(node)) return node.toJSON()
  return node
}

/**
 * The text with `key` set to `value` (YAML: `3000`, `true`, `secret`,
 * `[a, b]`), checked as loading checks it. Throws ConfigError when the
 * value does not parse or the result would not load.
 */
export function setConfigValue (text: string, file: string, key: string, value: string, options: ParseConfigOptions = {}): string {
  const doc = documentOf(text, file)
  const parsed = parseDocument(value, { version: '1.2' })
  if (parsed.errors.length > 0) throw new ConfigError([{ file, line: 1, column: 1, path: key, message: `the value is not YAML: ${parsed.errors[0]?.message.split('\n')[0] ?? ''}` }])
  doc.setIn(splitKey(key, file), doc.createNode(parsed.toJS()))
  const out = doc.toString()
  parseConfig(out, file, options)
  return out
}

/** Every leaf of the file as `[dotted key, value]`, in file order. */
export function listConfigValues (text: string, file: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = []
  const walk = (prefix: string, v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => { walk(`${prefix}.${i}`, x) })
    else if (v != null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(prefix === '' ? k : `${prefix}.${k}`, x)
    else out.push([prefix, v])
  }
  walk('', documentOf(text, file).toJS())
  return out
}

/** Whether a key names a credential (not printed by `beam config list`). */
export function isCredentialKey (key: string): boolean {
  return /password|credential|secret/i.test(key)
}
