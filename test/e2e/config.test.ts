import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, tempHome } from '../helpers/beam.ts'
import { expectedHash, freePort, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

// beam.config.yaml driving real beam processes: `beam up` for a named share
// and a named connection, the file's settings under flags, and its errors.
describe('beam.config.yaml and beam up', () => {
  let http: TestHttp
  let home: Awaited<ReturnType<typeof tempHome>>

  beforeAll(async () => {
    http = await startHttpService()
    home = await tempHome()
  })
  afterAll(async () => {
    await http?.close()
    await home?.cleanup()
  })

  it('beam up starts a named share and a named connection; bytes match end to end', async () => {
    const shareCfg = join(home.dir, 'share.yaml')
    await writeFile(shareCfg, [
      'backends:',
      '  direct:',
      '    iceServers: []',
      'tunnels:',
      '  web:',
      `    port: ${http.port}`,
      '    access: public',
      ''
    ].join('\n'))
    const share = new BeamProcess(['up', 'web', '--config', shareCfg, ...LOOPBACK_LISTEN, ...OFFLINE, '--json', '--ephemeral'], { BEAM_HOME: join(home.dir, 's') })
    try {
      const ready = await share.waitFor('ready', 30_000)
      expect(ready.access).toBe('public')
      expect(ready.ports).toEqual([http.port])
      const localPort = await freePort()
      const connectCfg = join(home.dir, 'connect.yaml')
      await writeFile(connectCfg, ['connect:', '  site:', `    target: ${String(ready.connect)}`, `    localPort: ${localPort}`, ''].join('\n'))
      const connect = new BeamProcess(['up', 'site', '--config', connectCfg, ...OFFLINE, '--json', '--ephemeral'], { BEAM_HOME: join(home.dir, 'c') })
      try {
        const listening = await connect.waitFor('listening', 40_000)
        expect(listening.port).toBe(localPort)
        const r = await httpGet(localPort, '/download?mib=4&seed=7')
        expect(r.sha256).toBe(expectedHash(7, 4))
      } finally {
        await connect.stop()
      }
    } finally {
      await share.stop()
    }
  })

  it('an invalid file exits 7 and names file and line of each problem; no node starts', async () => {
    const bad = join(home.dir, 'bad.yaml')
    await writeFile(bad, 'tunnels:\n  web:\n    port: 70000\n    stratgy: fallback\n')
    const r = await runBeam(['share', String(http.port), '--config', bad, ...OFFLINE, '--ephemeral'], { BEAM_HOME: home.dir })
    expect(r.code).toBe(7)
    expect(r.stderr).toContain(`${bad}:3:`)
    expect(r.stderr).toContain('70000 is not a port')
    expect(r.stderr).toContain(`${bad}:4:`)
    expect(r.stderr).toMatch(/strategy/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('beam up: an unknown name exits 7 with a suggestion; no config file exits 2', async () => {
    const cfg = join(home.dir, 'one.yaml')
    await writeFile(cfg, `tunnels:\n  web:\n    port: ${http.port}\n`)
    const r = await runBeam(['up', 'wbe', '--config', cfg, ...OFFLINE], { BEAM_HOME: home.dir })
    expect(r.code).toBe(7)
    expect(r.stderr).toMatch(/web/)
    const none = await runBeam(['up', 'web', ...OFFLINE], { BEAM_HOME: join(home.dir, 'empty') })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('no config file')
  })

  it('the file in $BEAM_HOME is read without --config, and a flag wins over it', async () => {
    const h = join(home.dir, 'h')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(h, { recursive: true })
    // the file selects tor, whose control port is closed: the share refuses to start
    const closed = await freePort()
    await writeFile(join(h, 'beam.config.yaml'), `backends:\n  tor:\n    control: 127.0.0.1:${closed}\n`)
    const viaFile = await runBeam(['share', String(http.port), ...OFFLINE, '--ephemeral'], { BEAM_HOME: h })
    expect(viaFile.code).toBe(13)
    expect(viaFile.stderr).toContain(`127.0.0.1:${closed}`)
    // --backend direct on the command line wins over the file's backends
    const share = new BeamProcess(['share', String(http.port), '--backend', 'direct', ...LOOPBACK_LISTEN, ...OFFLINE, '--json', '--ephemeral'], { BEAM_HOME: h })
    try {
      const ready = await share.waitFor('ready', 30_000)
      expect(ready.backends).toEqual(['direct'])
    } finally {
      await share.stop()
    }
  })
})
