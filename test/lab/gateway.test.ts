/**
 * beam gateway in the NAT lab: one gateway on a public lab address serves
 * two shares that sit behind real Linux NATs (one endpoint-independent, one
 * symmetric), with no relay anywhere: each share's own outbound connection to
 * the gateway (its registration) carries its visitors' tunnels. A visitor on
 * another public host downloads through it; a share that stops gives its
 * visitor a 502 within a second; a share that did not opt in is reachable by
 * no name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BeamProcess } from '../helpers/beam.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'
import { expectedHash } from '../helpers/services.ts'
import { shareLabel } from '../../src/gateway/index.ts'
import { parsePeerId } from '../../src/peer/index.ts'
import { LabBeams } from './lab-beam.ts'
import { LAB_HTTP } from './lab-http.ts'
import { createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'

const avail = await labAvailable()
const OFFLINE = ['--no-default-bootstrap', '--no-dht', '--no-webrtc']

describe.skipIf(suiteNeeds('gateway NAT lab tests', avail))('beam gateway serving shares behind NATs', () => {
  let lab: Lab
  let beams: LabBeams
  let gwAddr = ''
  let gwIp = ''
  const GW_PORT = 8080

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'gw' }, { name: 'visitor' }, { name: 'alice', nat: 'eim' }, { name: 'bob', nat: 'symmetric' }, { name: 'carol', nat: 'eim' }] })
    beams = new LabBeams(lab)
    gwIp = lab.hosts.gw?.ip ?? ''
    const gw = await beams.start('gw', ['gateway', '--domain', 'gw.test', '--listen', `0.0.0.0:${GW_PORT}`, '--p2p-listen', '/ip4/0.0.0.0/tcp/4003', '--announce', `/ip4/${gwIp}/tcp/4003`, ...OFFLINE.filter(f => f !== '--no-webrtc')])
    const ready = await gw.waitFor('ready', 30_000)
    gwAddr = String(ready.shareFlag).replace('--gateway ', '')
    expect(gwAddr).toBe(`/ip4/${gwIp}/tcp/4003/p2p/${String(ready.peerId)}`)
  }, 60_000)

  afterAll(async () => {
    await beams?.stopAll()
    await lab?.teardown()
  })

  async function service (host: string): Promise<number> {
    const svc = new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, 'serve']))
    return Number((await svc.waitFor(l => l.event === 'ready')).port)
  }

  async function share (host: string, gateway: boolean): Promise<{ proc: BeamProcess, label: string }> {
    const port = await service(host)
    const proc = await beams.start(host, ['share', String(port), '--no-relay', '--listen', '/ip4/0.0.0.0/tcp/0', ...OFFLINE, ...(gateway ? ['--gateway', gwAddr] : [])])
    const ready = await proc.waitFor('ready', 30_000)
    const label = shareLabel(parsePeerId(String(ready.peerId)))
    if (gateway) expect(ready.url).toBe(`http://${label}.gw.test:${GW_PORT}/`)
    return { proc, label }
  }

  /** curl from the visitor's public host: status, bytes, sha256, seconds. */
  async function visit (label: string, path: string): Promise<{ status: number, bytes: number, sha256: string, seconds: number }> {
    const r = await lab.exec('visitor', ['sh', '-c', `curl -s -m 20 -o /tmp/${lab.prefix}gw-body -w '%{http_code} %{size_download} %{time_total}' -H 'Host: ${label}.gw.test' 'http://${gwIp}:${GW_PORT}${path}'; echo; sha256sum /tmp/${lab.prefix}gw-body | cut -d' ' -f1; rm -f /tmp/${lab.prefix}gw-body`], { timeoutMs: 30_000 })
    const [line = '', hash = ''] = r.stdout.trim().split('\n')
    const [status, bytes, seconds] = line.split(' ').map(Number)
    return { status: status ?? 0, bytes: bytes ?? 0, sha256: hash.trim(), seconds: seconds ?? 0 }
  }

  it('serves two NATed shares to a visitor on another host, over their own connections to the gateway', async () => {
    const a = await share('alice', true)
    const b = await share('bob', true)
    for (const [s, seed] of [[a, 1], [b, 2]] as const) {
      const got = await visit(s.label, `/download?mib=8&seed=${seed}`)
      expect(got.status).toBe(200)
      expect(got.bytes).toBe(8 * 1024 * 1024)
      expect(got.sha256).toBe(expectedHash(seed, 8))
    }

    // bob stops: his visitor gets the gateway's 502 within a second
    await b.proc.stop('SIGTERM', 3000)
    const t0 = Date.now()
    let last = await visit(b.label, '/')
    while (last.status !== 502 && Date.now() - t0 < 5000) last = await visit(b.label, '/')
    expect(last.status).toBe(502)
    expect(Date.now() - t0).toBeLessThan(1000)
    // alice is not affected
    expect((await visit(a.label, '/download?mib=1&seed=3')).sha256).toBe(expectedHash(3, 1))
  }, 120_000)

  it('reaches no share that did not opt in', async () => {
    const c = await share('carol', false)
    const got = await visit(c.label, '/')
    expect(got.status).toBe(404)
    await c.proc.stop('SIGTERM', 3000)
  }, 60_000)
})
