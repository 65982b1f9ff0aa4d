/**
 * beam warns (one line at warn level, once per file) when its private state
 * is open to other users: the identity key, the access secret, the state
 * folder ($BEAM_HOME), and a beam.config.yaml that holds credentials. With
 * 0600 files and a 0700 folder it says nothing.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { runBeam } from '../../helpers/beam.ts'
import { resolveIdentity } from '../../../src/cli/context.ts'
import { createOutput } from '../../../src/cli/output.ts'
import { loadConfig } from '../../../src/cli/config/index.ts'
import { exposedToOthers } from '../../../src/peer/index.ts'

const dirs: string[] = []
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })
async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beam-perm-'))
  dirs.push(d)
  return d
}

/** A home with an identity (made by beam) and an access secret. */
async function homeWithState (): Promise<{ home: string, identity: string, secret: string }> {
  const home = join(await tempDir(), 'beam')
  const made = await runBeam(['id', '--json', '--log-level', 'silent'], { BEAM_HOME: home })
  expect(made.code, made.stderr).toBe(0)
  const secret = join(home, 'access-secret')
  await writeFile(secret, `${'ab'.repeat(32)}\n`, { mode: 0o600 })
  return { home, identity: join(home, 'identity.json'), secret }
}

/** The warn-level JSON log lines of a run (stderr is JSON when not a TTY). */
function warnings (stderr: string): Array<{ msg: string, path: string }> {
  return stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { level: number, msg: string, path: string }).filter(l => l.level === 40)
}

describe('warnings about private state open to other users', () => {
  it('beam id warns once each for a 0755 BEAM_HOME, a 0644 identity and a 0644 access secret', async () => {
    const { home, identity, secret } = await homeWithState()
    await chmod(home, 0o755)
    await chmod(identity, 0o644)
    await chmod(secret, 0o644)
    const r = await runBeam(['id', '--json', '--log-level', 'warn'], { BEAM_HOME: home })
    expect(r.code, r.stderr).toBe(0)
    const w = warnings(r.stderr)
    expect(w.map(x => x.msg)).toEqual([
      `BEAM_HOME ${home}: others can read it (mode 755): chmod 700 ${home}`,
      `identity file ${identity}: others can read it (mode 644): chmod 600 ${identity}`,
      `access secret file ${secret}: others can read it (mode 644): chmod 600 ${secret}`
    ])
    // nothing secret in the warnings: only paths and modes
    expect(r.stderr).not.toContain('ab'.repeat(32))
  }, 60_000)

  it('says nothing for a 0700 BEAM_HOME with 0600 files', async () => {
    const { home } = await homeWithState()
    await chmod(home, 0o700)
    const r = await runBeam(['id', '--json', '--log-level', 'warn'], { BEAM_HOME: home })
    expect(r.code, r.stderr).toBe(0)
    expect(warnings(r.stderr)).toEqual([])
  }, 60_000)

  it('warns about group bits too (0640, 0750), and only once per process', async () => {
    const { home, identity } = await homeWithState()
    await chmod(home, 0o750)
    await chmod(identity, 0o640)
    const lines: string[] = []
    const log = pino({ level: 'warn', base: undefined }, new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } }))
    const ctx = { out: createOutput(true, { stdout: { write: () => true }, stderr: { write: () => true } }), log, home }
    await resolveIdentity({}, ctx)
    await resolveIdentity({}, ctx)
    const msgs = lines.map(l => (JSON.parse(l) as { msg: string }).msg)
    expect(msgs).toEqual([
      `BEAM_HOME ${home}: others can read it (mode 750): chmod 700 ${home}`,
      `identity file ${identity}: others can read it (mode 640): chmod 600 ${identity}`
    ])
    expect(await exposedToOthers(join(home, 'access-secret'))).toBeUndefined()
    expect(await exposedToOthers(join(home, 'missing'))).toBeUndefined()
  }, 60_000)
})

describe('a config file holding credentials', () => {
  it('warns when it holds TURN credentials and others can read it; not at 0600 or without credentials', async () => {
    const dir = await tempDir()
    const p = join(dir, 'beam.config.yaml')
    await writeFile(p, 'backends:\n  direct:\n    iceServers:\n      - urls: [turn:127.0.0.1:3478]\n        username: me\n        credential: hunter2\n')
    await chmod(p, 0o644)
    const w = (await loadConfig(p)).warnings
    expect(w).toEqual([`${p}: holds backends.direct.iceServers credentials but others can read it (mode 644): chmod 600 ${p}`])
    expect(w.join('')).not.toContain('hunter2')
    await chmod(p, 0o600)
    expect((await loadConfig(p)).warnings).toEqual([])
    await writeFile(p, 'backends:\n  direct:\n    iceServers: [stun:127.0.0.1:3478]\n')
    await chmod(p, 0o644)
    expect((await loadConfig(p)).warnings).toEqual([])
  })

  it('names every credential in one line (Tor password and TURN), and warns for group access', async () => {
    const dir = await tempDir()
    const p = join(dir, 'beam.config.yaml')
    await writeFile(p, 'backends:\n  tor:\n    controlPassword: s3cret\n  direct:\n    iceServers:\n      - urls: [turn:127.0.0.1:3478]\n        username: me\n        credential: pw\n')
    await chmod(p, 0o640)
    expect((await loadConfig(p)).warnings).toEqual([`${p}: holds backends.tor.controlPassword and backends.direct.iceServers credentials but others can read it (mode 640): chmod 600 ${p}`])
  })
})
