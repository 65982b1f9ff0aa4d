/**
 * `--ator-launch`: beam starts an anon of its own (AgreeToTerms, no
 * --defaults-torrc), joins the private ATOR network through
 * --ator-launch-config, and serves a connector; the anon goes with beam.
 * And the ator backend's check that the daemon behind --ator-control is
 * anon: a tor (DisableNetwork 1, so it contacts nothing) there is refused.
 */
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it, expect, inject } from 'vitest'
import { BeamProcess, runBeam, tempHome } from '../../helpers/beam.ts'
import { freePort, TOR_BIN } from '../tor/tor-network.ts'
import { startBlobServer, fetchThrough } from '../tor/blob.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'

const ator = inject('atorNetwork')
const anonBin = join(inject('anonDir'), 'anon')
const run = promisify(execFile)
const skipAtor = suiteNeeds('ATOR tests', need(ator != null, inject('atorSkipReason')))

async function pgrepF (pattern: string): Promise<string[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', pattern])
    return stdout.trim().split('\n').filter(l => l !== '')
  } catch {
    return []
  }
}

describe.skipIf(skipAtor)('beam share --ator-launch', () => {
  it('starts an anon of its own (joining the private network through --ator-launch-config) and serves a connector', async () => {
    if (ator == null) throw new Error('no private ATOR network (the suite should have been skipped)')
    const connAnon = ator.clients[1]
    if (connAnon == null) throw new Error('no client')
    const shareHome = await tempHome()
    const connHome = await tempHome()
    const extra = join(shareHome.dir, 'test-network.torrc')
    await writeFile(extra, ator.networkTorrc)
    const blob = await startBlobServer(Buffer.alloc(256 * 1024, 7))
    const share = new BeamProcess(['share', String(blob.port), '--ator', '--ator-launch', '--ator-launch-config', extra, '--anon-binary', anonBin, '--json'], { BEAM_HOME: shareHome.dir })
    let connect: BeamProcess | undefined
    try {
      const start = Date.now()
      const ready = await share.waitFor('ready', 110_000)
      const launchMs = Date.now() - start
      connect = new BeamProcess(['connect', String(ready.connect), '--ator', '--ator-socks', `127.0.0.1:${connAnon.socksPort}`, '--timeout', '60000', '--json'], { BEAM_HOME: connHome.dir })
      const listening = await connect.waitFor('listening', 70_000)
      const res = await fetchThrough(Number(listening.port), Buffer.from('x'))
      expect(res.receivedSha).toBe(blob.sha)
      process.stderr.write(`ator cli: --ator-launch share ready (own anon bootstrapped, .anon descriptor published) in ${launchMs} ms\n`)
    } finally {
      await connect?.stop()
      await share.stop()
      await blob.close()
    }
    // the launched anon (its torrc is in this test's home) went with beam
    const torrc = join(shareHome.dir, 'ator', 'launched', 'torrc')
    expect((await stat(torrc)).isFile()).toBe(true)
    const deadline = Date.now() + 10_000
    let running = true
    while (running && Date.now() < deadline) {
      running = (await pgrepF(torrc)).length > 0
      if (running) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(running).toBe(false)
    await shareHome.cleanup()
    await connHome.cleanup()
  })
})

describe.skipIf(skipAtor || suiteNeeds('ATOR: anon refuses a tor', need(existsSync(TOR_BIN), `${TOR_BIN} is missing (apt install tor; scripts/install-test-deps.sh does it)`)))('beam backends: a tor behind --ator-control', () => {
  it('is not taken for anon, by beam backends nor by a share', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-ator-not-tor-'))
    const port = await freePort()
    // DisableNetwork: this tor opens its control port and contacts nobody
    await writeFile(join(dir, 'torrc'), [`DataDirectory ${join(dir, 'data')}`, 'DisableNetwork 1', 'SocksPort 0', `ControlPort 127.0.0.1:${port}`,
      `__OwningControllerProcess ${process.pid}`, 'Log notice file ' + join(dir, 'notice.log'), ''].join('\n'))
    await writeFile(join(dir, 'defaults'), '')
    const tor = spawn(TOR_BIN, ['--defaults-torrc', join(dir, 'defaults'), '-f', join(dir, 'torrc')], { stdio: 'ignore' })
    const home = await tempHome()
    try {
      let row: Record<string, unknown> | undefined
      for (let i = 0; i < 50 && (row == null || /connection refused/.test(String(row.reason))); i++) {
        if (i > 0) await new Promise(resolve => setTimeout(resolve, 200))
        const out = await runBeam(['backends', '--json', '--ator-control', `127.0.0.1:${port}`, '--anon-binary', anonBin], { BEAM_HOME: home.dir })
        row = out.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>).find(r => r.name === 'ator')
      }
      expect(row?.status).toBe('not-running')
      expect(String(row?.reason)).toMatch(/it is tor, not ATOR's anon/)
      // and a share makes no onion there (it would be a Tor onion under an /anon3/ address)
      const share = await runBeam(['share', '3000', '--ator', '--ator-control', `127.0.0.1:${port}`, '--json'], { BEAM_HOME: home.dir }, 60_000)
      expect(share.code).toBe(13)
      expect(share.stderr).toMatch(/it is tor, not ATOR's anon/)
      expect(share.stderr).not.toMatch(/\n\s+at /)
    } finally {
      tor.kill('SIGTERM')
      await home.cleanup()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
