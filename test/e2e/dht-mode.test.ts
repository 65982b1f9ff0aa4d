/**
 * The DHT mode of beam processes: `beam share` and `beam connect` are DHT
 * clients unless `--dht-server`; `beam relay` is a server. A public share
 * is still found by its peer id alone, with the relay as the only DHT server.
 * Everything on loopback, no default bootstrap.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, tempHome } from '../helpers/beam.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

const cleanups: Array<() => Promise<void>> = []
let http: TestHttp
let relay: BeamProcess
let relayAddr = ''
let relayHome: { dir: string, cleanup: () => Promise<void> } | undefined

async function home (): Promise<string> {
  const h = await tempHome()
  cleanups.push(h.cleanup)
  return h.dir
}

beforeAll(async () => {
  http = await startHttpService()
  relayHome = await tempHome()
  relay = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--ephemeral', '--json'], { BEAM_HOME: relayHome.dir })
  const ready = await relay.waitFor('ready', 30_000)
  relayAddr = (ready.multiaddrs as string[])[0] ?? ''
}, 60_000)

afterAll(async () => {
  await relay?.stop()
  await relayHome?.cleanup()
  await http?.close()
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

function start (args: string[], env: Record<string, string>): BeamProcess {
  const p = new BeamProcess(args, env)
  cleanups.push(async () => { await p.stop() })
  return p
}

describe('DHT mode of beam processes', () => {
  it('beam relay is a DHT server (ready event and banner)', async () => {
    expect(relay.events.find(e => e.event === 'ready')?.dht).toBe('server')
    const h = await home()
    const human = start(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--ephemeral'], { BEAM_HOME: h, BEAM_LOG_LEVEL: 'warn' })
    const deadline = Date.now() + 30_000
    // the banner goes to stderr, as share's does
    while (!/dht: +server/.test(human.stderr) && Date.now() < deadline && human.child.exitCode == null) await new Promise(resolve => setTimeout(resolve, 100))
    expect(human.stderr).toMatch(/^ {2}dht: +server$/m)
  }, 60_000)

  it('beam share and beam connect are DHT clients, and a connector still finds the share by its peer id', async () => {
    const share = start(['share', String(http.port), '--public', ...LOOPBACK_LISTEN, ...OFFLINE, '--bootstrap', relayAddr, '--json'], { BEAM_HOME: await home() })
    const ready = await share.waitFor('ready', 30_000)
    expect(ready.dht).toBe('client')
    await share.waitFor('published', 60_000)
    const connect = start(['connect', String(ready.peerId), ...OFFLINE, '--bootstrap', relayAddr, '--json'], { BEAM_HOME: await home() })
    const listening = await connect.waitFor('listening', 60_000)
    expect(listening.dht).toBe('client')
    expect(connect.events.find(e => e.event === 'lookup' && e.state === 'found')).toBeDefined()
    const got = await httpGet(Number(listening.port), '/download?mib=1&seed=51')
    expect(got.sha256).toBe(expectedHash(51, 1))
  }, 150_000)

  it('beam doctor says the mode: client by default, server with --dht-server', async () => {
    const h = await home()
    const modes: unknown[] = []
    for (const extra of [[], ['--dht-server']]) {
      const r = await runBeam(['doctor', ...OFFLINE, '--ephemeral', '--json', ...extra], { BEAM_HOME: h }, 60_000)
      expect(r.code).toBe(0)
      const report = r.stdout.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { event: string, dht?: unknown }).find(e => e.event === 'doctor')
      modes.push(report?.dht)
    }
    expect(modes).toEqual(['client', 'server'])
    const human = await runBeam(['doctor', ...OFFLINE, '--ephemeral'], { BEAM_HOME: h, BEAM_LOG_LEVEL: 'warn' }, 60_000)
    expect(human.stdout).toMatch(/^ {2}dht: client \(/m)
  }, 120_000)

  it('--dht-server makes a share a DHT server; with --no-dht or --tor it is a usage error (exit 2)', async () => {
    const share = start(['share', String(http.port), ...LOOPBACK_LISTEN, ...OFFLINE, '--dht-server', '--json'], { BEAM_HOME: await home() })
    expect((await share.waitFor('ready', 30_000)).dht).toBe('server')
    const both = await runBeam(['share', String(http.port), ...LOOPBACK_LISTEN, ...OFFLINE, '--no-dht', '--dht-server'], { BEAM_HOME: await home() })
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/--dht-server and --no-dht exclude each other/)
    // an anonymous-only mode runs no DHT at all (refused before any backend is contacted)
    const tor = await runBeam(['share', String(http.port), '--tor', ...OFFLINE, '--dht-server'], { BEAM_HOME: await home() })
    expect([tor.code, tor.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))]).toEqual([2, ['beam: tor-only mode uses no DHT: drop --dht-server']])
  }, 60_000)
})
