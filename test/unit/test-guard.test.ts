// The test-wide guard: no test, benchmark or example may dial the public
// bootstrap peers that bootstrap-nodes.json ships, resolve their names, or ask
// a public STUN server. The vitest configs set BEAM_BOOTSTRAP_FILE (an empty
// list) and BEAM_NO_PUBLIC_STUN for every worker and so for every process a
// test spawns; in-process CLI runs spread guardEnv() into their environment.
// Nothing here contacts anyone: settings are computed, never used.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DEFAULT_BOOTSTRAP_FILE, loadBootstrapFile } from '../../src/peer/index.ts'
import { EMPTY_BOOTSTRAP_FILE, guardEnv } from '../helpers/guard.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * What a beam process started with `env` and no network flag at all would
 * use: its node settings, computed in a child process (so that the variables
 * travel as they do to a spawned beam) by the same code the CLI runs.
 */
async function settingsOfChild (env: NodeJS.ProcessEnv): Promise<{ bootstrap: string[], ice: string[], iceSource: string }> {
  const script = `
    const { nodeSettings } = await import(${JSON.stringify(join(ROOT, 'src/cli/settings/node.ts'))})
    const { silentLogger } = await import(${JSON.stringify(join(ROOT, 'src/peer/index.ts'))})
    const s = await nodeSettings({}, { env: process.env }, silentLogger())
    console.log(JSON.stringify({ bootstrap: s.bootstrap.map(n => n.multiaddr.toString()), ice: s.iceServers.map(i => String(i.urls)), iceSource: s.iceSource }))`
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err != null) { reject(new Error(`${err.message}\n${stderr}`)); return }
      resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { bootstrap: string[], ice: string[], iceSource: string })
    })
  })
}

async function testFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await testFiles(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

describe('test-wide guard against the public network', () => {
  it('every test worker has an empty bootstrap list and no public STUN in its environment', async () => {
    expect(process.env.BEAM_BOOTSTRAP_FILE).toBe(EMPTY_BOOTSTRAP_FILE)
    expect((await loadBootstrapFile(EMPTY_BOOTSTRAP_FILE)).nodes).toEqual([])
    expect(process.env.BEAM_NO_PUBLIC_STUN).toBe('1')
    expect(guardEnv()).toEqual({ BEAM_BOOTSTRAP_FILE: process.env.BEAM_BOOTSTRAP_FILE, BEAM_NO_PUBLIC_STUN: '1' })
  })

  it('a process spawned with the test environment would load no bootstrap node and no ICE server, even without --no-default-bootstrap', async () => {
    const guarded = await settingsOfChild({ ...process.env })
    expect(guarded).toEqual({ bootstrap: [], ice: [], iceSource: 'none' })
    // the same child without the guard loads the shipped public list and the public STUN servers: the check above can fail
    const { BEAM_BOOTSTRAP_FILE: _f, BEAM_NO_PUBLIC_STUN: _s, ...bare } = process.env
    const unguarded = await settingsOfChild(bare)
    expect(unguarded.bootstrap).toEqual((await loadBootstrapFile(DEFAULT_BOOTSTRAP_FILE)).nodes.map(n => n.multiaddr.toString()))
    expect(unguarded.bootstrap.length).toBeGreaterThan(0)
    expect(unguarded.iceSource).toBe('public')
  })

  it('every in-process CLI run (runCli) in the tests takes the guard into its environment', async () => {
    const offenders: string[] = []
    for (const f of await testFiles(join(ROOT, 'test'))) {
      const text = await readFile(f, 'utf8')
      if (f.endsWith('test-guard.test.ts')) continue
      if (/\brunCli\(/.test(text) && !/\bguardEnv\(\)/.test(text)) offenders.push(relative(ROOT, f))
    }
    expect(offenders).toEqual([])
  })
})
