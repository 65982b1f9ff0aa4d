/**
 * Names the user types (aliases, `beam up NAME`, backend names, config keys,
 * units, error names) are never looked up on Object.prototype: `constructor`,
 * `__proto__`, `toString` and `hasOwnProperty` get the ordinary "not found" or
 * usage line and exit code, never a TypeError or a silent success.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { runCli } from '../../../src/cli/program.ts'
import { classify, ExitCode } from '../../../src/cli/exit-codes.ts'
import { parseConfig, resolveName, getTunnel, ConfigError } from '../../../src/cli/config/index.ts'
import { parseBytes, parseDuration } from '../../../src/cli/parse.ts'
import { Aliases, InvalidAliasError } from '../../../src/peer/index.ts'
import { BackendRegistryError, defaultBackends } from '../../../src/backends/index.ts'
import { guardEnv } from '../../helpers/guard.ts'

const PROTO_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function home (): string {
  const d = mkdtempSync(join(tmpdir(), 'beam-proto-'))
  dirs.push(d)
  return d
}

async function run (args: string[], beamHome = home()): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (s: string) => { stdout += s; return true } },
    stderr: { write: (s: string) => { stderr += s; return true } },
    env: { ...guardEnv(), BEAM_HOME: beamHome, BEAM_LOG_LEVEL: 'silent' },
    signal: AbortSignal.timeout(20_000),
    stderrIsTTY: false
  })
  return { code, stdout, stderr }
}

/** One line on stderr, no stack trace, no "this is a bug". */
function expectOneLine (stderr: string): void {
  expect(stderr).not.toMatch(/TypeError|is not a function|this is a bug|\n\s+at /)
  expect(stderr.trim().split('\n')).toHaveLength(1)
}

const peerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

describe('prototype keys as user input', () => {
  it('beam connect <prototype key>: not an alias (exit 4), no TypeError', async () => {
    for (const name of PROTO_KEYS) {
      const r = await run(['connect', name, '--no-default-bootstrap'])
      expect(r.code, `${name}: ${r.stderr}`).toBe(ExitCode.INVALID_TARGET)
      expectOneLine(r.stderr)
    }
    // with an alias file in place, too
    const h = home()
    writeFileSync(join(h, 'aliases.json'), JSON.stringify({ version: 1, aliases: { web: await peerId() } }))
    const r = await run(['connect', 'constructor', '--no-default-bootstrap'], h)
    expect(r.code).toBe(ExitCode.INVALID_TARGET)
    expect(r.stderr).toMatch(/nor an alias/)
  })

  it('beam alias rm <prototype key> says there is no such alias (exit 2); add/rm constructor work as a plain name', async () => {
    const h = home()
    for (const name of PROTO_KEYS) {
      const r = await run(['alias', 'rm', name], h)
      expect(r.code, `${name}: ${r.stderr}`).toBe(ExitCode.USAGE)
      expect(r.stderr).toMatch(/no alias/)
      expectOneLine(r.stderr)
    }
    const id = await peerId()
    expect((await run(['alias', 'add', 'constructor', id], h)).code).toBe(0)
    const list = await run(['alias', 'list'], h)
    expect(list.stdout).toBe(`constructor\t${id}\n`)
    expect((await run(['alias', 'rm', 'constructor'], h)).code).toBe(0)
    expect((await run(['alias', 'rm', 'constructor'], h)).code).toBe(ExitCode.USAGE)
    // __proto__ is no valid alias name: a usage error
    const bad = await run(['alias', 'add', '__proto__', id], h)
    expect(bad.code).toBe(ExitCode.USAGE)
    expectOneLine(bad.stderr)
  })

  it('the Aliases store keeps prototype names apart from Object.prototype, also from a hand-edited file', async () => {
    const h = home()
    const path = join(h, 'aliases.json')
    const id = await peerId()
    writeFileSync(path, `{"version":1,"aliases":{"__proto__":"${id}","web":"${id}"}}`)
    const a = new Aliases(path)
    for (const name of PROTO_KEYS.filter(n => n !== '__proto__')) expect(await a.get(name)).toBeUndefined()
    expect(await a.get('__proto__')).toBe(id)
    await a.set('constructor', id)
    expect(await a.get('constructor')).toBe(id)
    const list = await a.list()
    expect(Object.keys(list).sort()).toEqual(['__proto__', 'constructor', 'web'])
    expect(Object.getPrototypeOf(list)).toBe(Object.prototype)
    // the file written back still holds __proto__ as a plain key
    const written = JSON.parse(readFileSync(path, 'utf8')) as { aliases: Record<string, string> }
    expect(Object.hasOwn(written.aliases, '__proto__')).toBe(true)
    await expect(a.remove('toString')).rejects.toThrow(InvalidAliasError)
  })

  it('beam up <prototype key>: no tunnel or connection of that name (exit 7)', async () => {
    const h = home()
    writeFileSync(join(h, 'beam.config.yaml'), 'version: 1\ntunnels:\n  web:\n    port: 3000\n')
    for (const name of PROTO_KEYS) {
      const r = await run(['up', name, '--no-default-bootstrap'], h)
      expect(r.code, `${name}: ${r.stderr}`).toBe(ExitCode.CONFIG)
      expect(r.stderr).toContain(`no tunnel or connection named '${name}'`)
      expectOneLine(r.stderr)
    }
  })

  it('--backend/--backends <prototype key>: unknown backend (exit 2)', async () => {
    for (const name of PROTO_KEYS) {
      for (const flag of ['--backend', '--backends']) {
        const r = await run(['share', '1', flag, name, '--no-default-bootstrap'])
        expect(r.code, `${flag} ${name}: ${r.stderr}`).toBe(ExitCode.USAGE)
        expect(r.stderr).toContain(`unknown backend '${name}'`)
        expectOneLine(r.stderr)
      }
    }
    for (const name of PROTO_KEYS) expect(() => defaultBackends().get(name)).toThrow(BackendRegistryError)
  })

  it('units and error names are looked up in Maps', () => {
    expect(() => parseBytes('1constructor', 'max bytes')).toThrow(/expected e\.g\./)
    expect(() => parseBytes('1valueOf', 'max bytes')).toThrow(/expected e\.g\./)
    expect(() => parseDuration('1constructor', 'max duration')).toThrow(/expected e\.g\./)
    for (const name of PROTO_KEYS) {
      const err = new Error('x')
      err.name = name
      expect(classify(err)).toEqual({ exit: ExitCode.INTERNAL, code: 'internal' })
    }
  })
})

describe('prototype keys in beam.config.yaml', () => {
  it('a connection named constructor is not mistaken for a tunnel; lookups find only own names', async () => {
    const id = await peerId()
    const c = parseConfig(`version: 1\nconnect:\n  constructor:\n    target: ${id}\n`, 'beam.config.yaml')
    const found = resolveName(c, 'constructor')
    expect(found.kind).toBe('connect')
    for (const name of PROTO_KEYS.filter(n => n !== 'constructor')) expect(() => resolveName(c, name)).toThrow(ConfigError)
    for (const name of PROTO_KEYS) expect(() => getTunnel(c, name)).toThrow(ConfigError)
  })

  it('__proto__ keys are reported as unknown or invalid names, with their line', () => {
    const cases: Array<[string, RegExp]> = [
      ['version: 1\n__proto__: 1\n', /:2: __proto__: unknown key/],
      ['version: 1\nbackends:\n  __proto__:\n    priority: 1\n', /:3: backends\.__proto__: unknown backend/],
      ['version: 1\ntunnels:\n  __proto__:\n    port: 1\n', /:3: tunnels\.__proto__: a tunnel name is/],
      ['version: 1\nconnect:\n  __proto__:\n    target: x\n', /:3: connect\.__proto__: a connection name is/],
      ['version: 1\ntunnels:\n  web:\n    port: 1\n    __proto__: 2\n', /:5: tunnels\.web\.__proto__: unknown key/],
      ['version: 1\nbackends:\n  constructor:\n    priority: 1\n', /:3: backends\.constructor: unknown backend/]
    ]
    for (const [text, re] of cases) {
      expect(() => parseConfig(text, 'beam.config.yaml'), text).toThrow(ConfigError)
      try { parseConfig(text, 'beam.config.yaml') } catch (err) { expect((err as Error).message).toMatch(re) }
    }
  })

  it('an extra backend\'s options map keeps __proto__ as data, not as its prototype', () => {
    const c = parseConfig('version: 1\nbackends:\n  nym:\n    options:\n      __proto__: { polluted: true }\n', 'f.yaml', { extraBackends: ['nym'] })
    const nym = c.backends.extra.nym
    expect(nym).toBeDefined()
    const options = nym?.options ?? {}
    expect(Object.hasOwn(options, '__proto__')).toBe(true)
    expect((options as { polluted?: unknown }).polluted).toBeUndefined()
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })
})
