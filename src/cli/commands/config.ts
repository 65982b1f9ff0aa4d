import { Command } from 'commander'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { stringify } from 'yaml'
import { defaultBackends } from '../../backends/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { CONFIG_FILE_NAME, ConfigError, findConfigFile, getConfigValue, isCredentialKey, listConfigValues, loadConfig, setConfigValue } from '../config/index.ts'
import { addConfigOption } from '../settings/index.ts'
import { beamHome } from '../home.ts'

interface ConfigFlags extends CommonFlags {
  config?: string
}

/** The file `beam config` works on: --config / BEAM_CONFIG, else $BEAM_HOME/beam.config.yaml (whether it exists or not). */
function configPath (flags: ConfigFlags, io: CliIo): string {
  const home = beamHome(io.env)
  return findConfigFile({ ...(flags.config != null ? { flag: flags.config } : {}), home })?.path ?? join(home, CONFIG_FILE_NAME)
}

async function readText (path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError([{ file: path, line: 1, column: 1, path: '', message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }])
  }
}

const extraBackends = (): string[] => defaultBackends().list().map(b => b.name)

/** A value for the terminal: scalars as they are, collections as YAML. */
function show (value: unknown): string {
  return value != null && typeof value === 'object' ? stringify(value).trimEnd() : String(value)
}

/** `turn:user:pass@host` with the credentials hidden. */
const hideCredentials = (v: unknown): unknown => typeof v === 'string' ? v.replace(/^(turns?:)[^@]*@/i, '$1***@') : v

/** `beam config get|set|list|path`. */
export function configCommand (io: CliIo): Command {
  const cmd = new Command('config').description('read and change beam.config.yaml (the same checks as loading it)')

  const path = new Command('path').description('print the config file\'s path (whether it exists or not)')
  const get = new Command('get').description('print the value of a key, e.g. tunnels.web.access').argument('<key>', 'a dotted key')
  const set = new Command('set').description('set a key to a value (YAML: 3000, true, [a, b]); refused when the file would not load')
    .argument('<key>', 'a dotted key, e.g. tunnels.web.access').argument('<value>', 'the value, as YAML')
  const list = new Command('list').description('print every key and value (passwords hidden)')
  for (const c of [path, get, set, list]) { addConfigOption(c); addOutputOptions(c, 'warn'); cmd.addCommand(c) }

  path.action(async (flags: ConfigFlags) => {
    const ctx = createContext(flags, io)
    const p = configPath(flags, io)
    const exists = await readText(p) != null
    ctx.out.event('config-path', { path: p, exists })
    if (!ctx.out.json) io.stdout.write(`${p}\n`)
    if (!exists) ctx.out.say('(it does not exist yet: beam config set creates it)')
  })

  get.action(async (key: string, flags: ConfigFlags) => {
    const ctx = createContext(flags, io)
    const p = configPath(flags, io)
    // the whole file must load, as it would for beam share
    await loadConfig(p, { extraBackends: extraBackends() })
    const value = getConfigValue(await readText(p) ?? '', p, key)
    if (value === undefined) throw new ConfigError([{ file: p, line: 1, column: 1, path: key, message: 'no such key in the file' }])
    ctx.out.event('config', { key, value })
    if (!ctx.out.json) io.stdout.write(`${show(value)}\n`)
  })

  set.action(async (key: string, value: string, flags: ConfigFlags) => {
    const ctx = createContext(flags, io)
    const p = configPath(flags, io)
    const before = await readText(p)
    const text = setConfigValue(before ?? '', p, key, value, { extraBackends: extraBackends() })
    await mkdir(dirname(p), { recursive: true, mode: 0o700 })
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, text, { mode: 0o600 })
    await chmod(tmp, 0o600)
    await rename(tmp, p)
    const now = getConfigValue(text, p, key)
    ctx.out.event('config', { key, value: isCredentialKey(key) ? '[hidden]' : now, file: p })
    ctx.out.say(`${key} = ${isCredentialKey(key) ? '[hidden]' : show(hideCredentials(now))} (${p})`)
  })

  list.action(async (flags: ConfigFlags) => {
    const ctx = createContext(flags, io)
    const p = configPath(flags, io)
    const text = await readText(p)
    if (text == null) { ctx.out.say(`${p} does not exist`); ctx.out.event('config-list', { file: p, values: {} }); return }
    await loadConfig(p, { extraBackends: extraBackends() })
    const values = listConfigValues(text, p).map(([k, v]): [string, unknown] => [k, isCredentialKey(k) ? '[hidden]' : hideCredentials(v)])
    ctx.out.event('config-list', { file: p, values: Object.fromEntries(values) })
    if (!ctx.out.json) io.stdout.write(values.map(([k, v]) => `${k} = ${show(v)}\n`).join(''))
  })
  return cmd
}
