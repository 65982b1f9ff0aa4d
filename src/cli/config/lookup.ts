/**
 * Looking names up: a named share or connection for `beam up NAME`, and
 * own-property look-ups for every record keyed by user input.
 */
import { ConfigError } from './schema.ts'
import type { BeamConfig, ConnectConfig, TunnelConfig } from './schema.ts'
import { suggest } from './suggest.ts'

/**
 * The entry of `record` named `key`, if the record has one of its own.
 * Names in a config file and on the command line are user input: `beam up
 * constructor` must find no tunnel, not Object.prototype.constructor.
 */
export function ownEntry<T> (record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
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

