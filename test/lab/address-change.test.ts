/**
 * A share whose network changes under a running connector (issue 24): its
 * IP address moves (a laptop on another network), or its NAT forgets every
 * mapping (`conntrack -F`: a router reboot, a mapping that timed out). New
 * local connections must work again within seconds, found by the
 * connector's redial (the share's relay reservation, its new address in the
 * DHT); a connection open across the change stays open where the transport
 * allows it. The times measured are printed (docs/long-running.md quotes a run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BeamEvent, BeamProcess } from '../helpers/beam.ts'
import { LabBeams } from './lab-beam.ts'
import { expectedHash } from '../helpers/services.ts'
import { createLab, labAvailable, PUBLIC_NET } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'
import type { JsonLine } from './udp-reflector.ts'
import { LAB_HTTP } from './lab-http.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()
const skipLab = suiteNeeds('address change lab tests', avail)

/** Longest the test keeps trying a new local connection after the change, in ms (to measure a slow recovery too). */
const RECOVERY_BOUND = 45_000

/**
 * Longest wait, once a moved share has announced its new address, for a new
 * local connection to work, in ms. The connector needs one slow tunnel
 * handshake (3.3 s) and one ping timeout (3 s) to give up its dead
 * connections, then a dial through the relay (measured ~7–9 s in all; it was
 * 17–25 s while the relay sent circuits over the share's dead connection from
 * its old address and the connector checked its connections one by one).
 * Generous for a loaded 2-core machine.
 */
const MOVE_RECOVERY_BOUND = 12_000

/**
 * Longest wait for a moved share to announce its new address, in ms: it reads
 * its interfaces every 2 s, and libp2p recomputes its addresses within 1 s
 * (a share that waits for its connections to time out takes 13 s or more).
 */
const ANNOUNCE_BOUND = 10_000

/**
 * Longest wait for a new local connection after a symmetric NAT in front of
 * the share forgot its mappings, in ms: the share's flows to its relay get new
 * ports, so its connections there die and it reserves again.
 */
const SYMMETRIC_RECOVERY_BOUND = 15_000

const timings: Array<{ case: string, recoveredMs: number, heldConnection: string }> = []

describe.skipIf(skipLab)('the share\'s network changes under a running connector', () => {
  let lab: Lab
  let beams: LabBeams
  let relayAddr = ''
  let relayStun = ''

  const net = (): string[] => ['--no-default-bootstrap', '--bootstrap', relayAddr, '--ice-server', relayStun]

  async function service (host: string, kind: 'serve' | 'echo'): Promise<number> {
    const svc = new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, kind]))
    return Number((await svc.waitFor(l => l.event === 'ready', 10_000)).port)
  }

  async function get (host: string, port: number, mib: number, seed: number, timeoutMs: number): Promise<JsonLine> {
    const g = new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, 'get', String(port), `/download?mib=${mib}&seed=${seed}`]))
    return await g.waitFor(l => l.event === 'done' || l.event === 'error', timeoutMs).catch((err: Error) => ({ event: 'error', message: err.message }))
  }

  /** GET through the tunnel until one succeeds (bounded in count and time); the ms it took. */
  async function recoverWithin (host: string, port: number, seed: number): Promise<number> {
    const start = Date.now()
    const errors: string[] = []
    for (let i = 0; i < 60 && Date.now() - start < RECOVERY_BOUND; i++) {
      const r = await get(host, port, 1, seed, Math.min(10_000, RECOVERY_BOUND - (Date.now() - start) + 1000))
      if (r.event === 'done' && r.sha256 === expectedHash(seed, 1)) return Date.now() - start
      errors.push(String(r.message ?? r.event))
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    throw new Error(`no request went through within ${RECOVERY_BOUND} ms: ${errors.slice(-5).join('; ')}`)
  }

  /** A share of an HTTP service and an echo service on `host`, and a connector to each from `from`. */
  async function tunnels (host: string, from: string): Promise<{ share: BeamProcess, ready: BeamEvent, http: { proc: BeamProcess, port: number }, echo: { proc: BeamProcess, port: number } }> {
    const httpPort = await service(host, 'serve')
    const echoPort = await service(host, 'echo')
    const share = await beams.start(host, ['share', String(httpPort), String(echoPort), ...net()])
    const ready = await share.waitFor('ready', 30_000)
    const open = async (extra: string[]): Promise<{ proc: BeamProcess, port: number }> => {
      const proc = await beams.start(from, ['connect', String(ready.connect), ...extra, ...net()])
      return { proc, port: Number((await proc.waitFor('listening', 40_000)).port) }
    }
    const [http, echo] = await Promise.all([open([]), open(['--remote', String(echoPort)])])
    return { share, ready, http, echo }
  }

  /** With LAB_TRACE=1, the share's and the connector's logs in /tmp/lab-<name>-{share,connect}.log (run with BEAM_LOG_LEVEL=debug). */
  async function trace (name: string, t: { share: BeamProcess, http: { proc: BeamProcess } }): Promise<void> {
    if (process.env.LAB_TRACE !== '1') return
    const { writeFile } = await import('node:fs/promises')
    await writeFile(`/tmp/lab-${name}-connect.log`, t.http.proc.stderr)
    await writeFile(`/tmp/lab-${name}-share.log`, t.share.stderr)
  }

  /** One TCP connection held open through the tunnel: an echo every 250 ms for `seconds`. */
  function session (host: string, port: number, seconds: number): JsonLines {
    return new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, 'session', String(port), String(seconds), '250', '4']))
  }

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'relay' }, { name: 'mover' }, { name: 'natshare', nat: 'eim' }, { name: 'symshare', nat: 'symmetric' }, { name: 'bob', nat: 'eim' }] })
    beams = new LabBeams(lab)
    const ip = lab.hosts.relay?.ip ?? ''
    const relay = await beams.start('relay', ['relay', '--listen', '/ip4/0.0.0.0/tcp/4001', '--listen', '/ip4/0.0.0.0/udp/4001/quic-v1',
      '--announce', `/ip4/${ip}/tcp/4001`, '--announce', `/ip4/${ip}/udp/4001/quic-v1`, '--stun-port', '3478'])
    const ready = await relay.waitFor('ready', 30_000)
    relayAddr = (ready.multiaddrs as string[]).find(a => a.includes('/tcp/')) ?? ''
    relayStun = `stun:${ip}:3478`
  }, 90_000)

  afterAll(async () => {
    await beams?.stopAll()
    await lab?.teardown()
    if (timings.length > 0) console.log(`address change and NAT rebinding (ms until a new connection works):\n${timings.map(t => `  ${t.case}: ${t.recoveredMs} ms; connection held across it: ${t.heldConnection}`).join('\n')}`)
  }, 30_000)

  it('the share\'s IP address moves (a laptop on another network): new connections work again within seconds', async () => {
    const t = await tunnels('mover', 'bob')
    const first = await get('bob', t.http.port, 1, 81, 30_000)
    expect(first.sha256, JSON.stringify(first)).toBe(expectedHash(81, 1))
    const held = session('bob', t.echo.port, 20)
    await new Promise(resolve => setTimeout(resolve, 2000))

    // the move: the old address gone, a new one on the same link (the default route is the link's)
    const oldIp = lab.hosts.mover?.ip ?? ''
    const newIp = `${PUBLIC_NET}.111`
    const movedAt = Date.now()
    const link = (await lab.exec('mover', ['ip', '-o', '-4', 'addr', 'show'], { timeoutMs: 5000 })).stdout.split('\n').find(l => l.includes(`${oldIp}/`))?.split(/\s+/)[1] ?? ''
    expect(link).not.toBe('')
    const mark = t.share.events.length
    // the old address goes, then the new one comes (deleting a primary address first would take a secondary in the same subnet with it)
    expect((await lab.exec('mover', ['ip', 'addr', 'del', `${oldIp}/24`, 'dev', link], { timeoutMs: 5000 })).code).toBe(0)
    expect((await lab.exec('mover', ['ip', 'addr', 'add', `${newIp}/24`, 'dev', link], { timeoutMs: 5000 })).code).toBe(0)
    expect((await lab.exec('mover', ['ip', 'route', 'replace', 'default', 'dev', link], { timeoutMs: 5000 })).code).toBe(0)

    // the share notices at once and hands out its new address (in the DHT, in its `addresses` event)
    const has = (e: BeamEvent, ip: string): boolean => (e.multiaddrs as string[]).some(a => a.includes(`/${ip}/`))
    const moved = await t.share.waitFor('addresses', ANNOUNCE_BOUND, e => has(e, newIp), mark)
    const announcedMs = Date.now() - movedAt
    expect(has(moved, newIp)).toBe(true)
    const recoveredMs = await recoverWithin('bob', t.http.port, 82).finally(async () => { await trace('mover', t) })
    // the session's own limit: 20 s, or 30 s without an echo
    const heldEnd = await held.waitFor(l => l.event === 'done' || l.event === 'error', 60_000)
    timings.push({ case: `IP address change (public share, TCP; new address announced after ${announcedMs} ms)`, recoveredMs, heldConnection: heldEnd.event === 'done' ? 'kept' : `closed (${String(heldEnd.message)})` })
    expect(recoveredMs).toBeLessThan(MOVE_RECOVERY_BOUND)
    // a TCP (or QUIC) connection is tied to the old address: it ends, and says so rather than hanging
    expect(['done', 'error']).toContain(heldEnd.event)
  }, 180_000)

  it('the share\'s NAT forgets its mappings (conntrack -F) during a tunnel: the open connection stays, new ones work at once', async () => {
    const t = await tunnels('natshare', 'bob')
    const first = await get('bob', t.http.port, 1, 91, 30_000)
    expect(first.sha256, JSON.stringify(first)).toBe(expectedHash(91, 1))
    const held = session('bob', t.echo.port, 20)
    await new Promise(resolve => setTimeout(resolve, 3000))
    // both routers reboot, as it were: every mapping of the share and of the connector is gone
    await lab.flushNat('natshare')
    await lab.flushNat('bob')
    expect(await lab.conntrack('natshare')).not.toMatch(/dport=4001/)
    const recoveredMs = await recoverWithin('bob', t.http.port, 92)
    const heldEnd = await held.waitFor(l => l.event === 'done' || l.event === 'error', 60_000)
    const path = t.http.proc.events.filter(e => e.event === 'path').at(-1)
    timings.push({ case: `NAT rebinding (both behind endpoint-independent NATs, path ${path?.direct === true ? `direct ${String(path.transport)}` : 'relayed'})`, recoveredMs, heldConnection: heldEnd.event === 'done' ? 'kept' : `closed (${String(heldEnd.message)})` })
    expect(recoveredMs).toBeLessThan(15_000)
    // an endpoint-independent NAT maps the flow to the same port again: the connection carries on
    expect(heldEnd.event, JSON.stringify(heldEnd)).toBe('done')
  }, 180_000)

  it('the share\'s symmetric NAT forgets its mappings (conntrack -F) during a relayed tunnel: new connections work within seconds', async () => {
    const t = await tunnels('symshare', 'bob')
    const first = await get('bob', t.http.port, 1, 101, 30_000)
    expect(first.sha256, JSON.stringify(first)).toBe(expectedHash(101, 1))
    const before = t.http.proc.events.filter(e => e.event === 'path').at(-1)
    const held = session('bob', t.echo.port, 20)
    await new Promise(resolve => setTimeout(resolve, 3000))
    // the share's router reboots: its flows get new, random ports on the next packet out
    await lab.flushNat('symshare')
    const recoveredMs = await recoverWithin('bob', t.http.port, 102).finally(async () => { await trace('symshare', t) })
    const heldEnd = await held.waitFor(l => l.event === 'done' || l.event === 'error', 60_000)
    timings.push({ case: `NAT rebinding (share behind a symmetric NAT, path ${before?.direct === true ? `direct ${String(before.transport)}` : 'relayed'})`, recoveredMs, heldConnection: heldEnd.event === 'done' ? 'kept' : `closed (${String(heldEnd.message)})` })
    expect(recoveredMs).toBeLessThan(SYMMETRIC_RECOVERY_BOUND)
    // the share's flows to the relay moved to new ports: the relayed connection may end, and says so rather than hanging
    expect(['done', 'error']).toContain(heldEnd.event)
  }, 180_000)
})
