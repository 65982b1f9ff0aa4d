/**
 * Issue 3, lab case 6: a relayed tunnel outlives libp2p's default relay limits
 * (2 minutes, 128 KiB per relayed connection) through a `beam relay` with its
 * default limits. A relay configured with a duration limit is a limited
 * relay: it carries signalling, never a tunnel, so a connector whose only path
 * is through it (no direct path between two symmetric NATs) exits 9 with
 * what would fix it, and not one tunnel reaches the service. Both peers sit
 * behind symmetric NATs with no TURN server, so the relay is the only path.
 *
 * Takes ~2.5 minutes by nature; it runs in its own file so that vitest runs
 * it beside the other files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BeamProcess } from '../helpers/beam.ts'
import { LabBeams } from './lab-beam.ts'
import { createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'
import { LAB_HTTP } from './lab-http.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()

/** Longer than circuit-relay-v2's default 2-minute limit. */
const LONG_S = 130
const SHORT_LIMIT_S = 8

describe.skipIf(suiteNeeds('relay limit lab tests', avail))('relayed tunnels and relay limits in the lab', () => {
  let lab: Lab
  const relays: Record<string, string> = {}

  let beams: LabBeams
  const beam = async (host: string, args: string[]): Promise<BeamProcess> => await beams.start(host, args)

  async function relay (host: string, extra: string[]): Promise<void> {
    const ip = lab.hosts[host]?.ip ?? ''
    const p = await beam(host, ['relay', '--listen', '/ip4/0.0.0.0/tcp/4001', '--announce', `/ip4/${ip}/tcp/4001`, '--stun-port', '3478', ...extra])
    const ready = await p.waitFor('ready', 30_000)
    relays[host] = (ready.multiaddrs as string[])[0] ?? ''
  }

  /** Echo service + share on s1 and connect on s2, both using only `relayHost`. */
  async function tunnel (relayHost: string): Promise<{ port: number, connect: BeamProcess, spawnedAt: number, listeningAt: number }> {
    const ip = lab.hosts[relayHost]?.ip ?? ''
    const net = ['--no-default-bootstrap', '--bootstrap', relays[relayHost] ?? '', '--ice-server', `stun:${ip}:3478`]
    const echo = new JsonLines(lab.spawn('s1', [process.execPath, LAB_HTTP, 'echo']))
    const svc = await echo.waitFor(l => l.event === 'ready')
    const share = await beam('s1', ['share', String(svc.port), ...net])
    const ready = await share.waitFor('ready', 30_000)
    const spawnedAt = Date.now()
    const connect = await beam('s2', ['connect', String(ready.connect), ...net])
    const ev = await connect.waitFor('listening', 40_000)
    // the relayed connection (whose lifetime the relay limits) opened between these two
    return { port: Number(ev.port), connect, spawnedAt, listeningAt: Date.now() }
  }

  function session (port: number, seconds: number, everyMs: number, kib: number): JsonLines {
    return new JsonLines(lab.spawn('s2', [process.execPath, LAB_HTTP, 'session', String(port), String(seconds), String(everyMs), String(kib)]))
  }

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'relay1' }, { name: 'relay2' }, { name: 's1', nat: 'symmetric' }, { name: 's2', nat: 'symmetric' }] })
    beams = new LabBeams(lab)
    await Promise.all([relay('relay1', []), relay('relay2', ['--max-duration', `${SHORT_LIMIT_S}s`])])
  }, 60_000)

  afterAll(async () => {
    await beams?.stopAll()
    await lab?.teardown()
  }, 60_000)

  it(`keeps a relayed tunnel for ${LONG_S} s carrying far more than 128 KiB (beam relay defaults); over a relay with --max-duration ${SHORT_LIMIT_S}s (limited) no tunnel runs: exit 9`, async () => {
    const long = await tunnel('relay1')
    // the only path: symmetric NATs and no TURN
    expect(await long.connect.waitFor('path', 15_000)).toMatchObject({ direct: false, transport: 'relay' })
    const longRun = session(long.port, LONG_S, 2000, 64)

    // the limited relay: the connector waits for a direct path that cannot come, then gives up
    const ip = lab.hosts.relay2?.ip ?? ''
    const net = ['--no-default-bootstrap', '--bootstrap', relays.relay2 ?? '', '--ice-server', `stun:${ip}:3478`]
    const echo = new JsonLines(lab.spawn('s1', [process.execPath, LAB_HTTP, 'echo']))
    const svc = await echo.waitFor(l => l.event === 'ready')
    const share = await beam('s1', ['share', String(svc.port), ...net])
    const ready = await share.waitFor('ready', 30_000)
    const startedAt = Date.now()
    const connect = await beam('s2', ['connect', String(ready.connect), ...net])
    const exited = await connect.exited
    const waitedMs = Date.now() - startedAt
    expect(exited.code, connect.stderr.slice(-2000)).toBe(9)
    expect(connect.events.find(e => e.event === 'error')).toMatchObject({ code: 'limited-relay' })
    expect(waitedMs).toBeLessThan(60_000)
    expect(share.events.filter(e => e.event === 'tunnel-open')).toEqual([])

    const done = await longRun.waitFor(l => l.event === 'done' || l.event === 'error', (LONG_S + 60) * 1000)
    expect(done.event, JSON.stringify(done)).toBe('done')
    expect(Number(done.ms)).toBeGreaterThan(120_000)
    expect(Number(done.bytes)).toBeGreaterThan(128 * 1024 * 10)
    console.log(`relayed session: ${String(done.rounds)} echoes, ${Math.round(Number(done.bytes) / 1024)} KiB over ${Math.round(Number(done.ms) / 1000)} s; the connector with only the limited relay exited 9 after ${waitedMs} ms`)
  }, (LONG_S + 150) * 1000)
})
