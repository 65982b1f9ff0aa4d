/**
 * `beam benchmark` across the NAT lab: each forced path carries its bytes
 * where it says it does, as the NAT routers' conntrack byte counters show.
 * A share behind an endpoint-independent NAT is measured from behind another
 * (relay and WebRTC hole punch); a public share directly (TCP and QUIC).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BeamEvent } from '../helpers/beam.ts'
import { LabBeams } from './lab-beam.ts'
import { createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { bytesTo, parseConntrack } from './flows.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()

describe.skipIf(suiteNeeds('benchmark lab tests', avail))('beam benchmark in the NAT lab', () => {
  let lab: Lab
  let beams: LabBeams
  let relayAddr = ''
  let stun = ''

  const net = (): string[] => ['--no-default-bootstrap', '--bootstrap', relayAddr, '--ice-server', stun]

  async function routerBytes (host: string, ip: string, proto: 'tcp' | 'udp'): Promise<number> {
    return bytesTo(parseConntrack(await lab.conntrack(host)), ip, proto)
  }

  async function benchmark (host: string, cs: string, backends: string): Promise<BeamEvent[]> {
    const p = await beams.start(host, ['benchmark', cs, '--backends', backends, '--duration', '2s', ...net()])
    const done = await p.waitFor('benchmark', 90_000)
    return done.results as BeamEvent[]
  }

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'relay' }, { name: 'pub' }, { name: 'e1', nat: 'eim' }, { name: 'e2', nat: 'eim' }] })
    beams = new LabBeams(lab)
    const ip = lab.hosts.relay?.ip ?? ''
    const relay = await beams.start('relay', ['relay', '--listen', '/ip4/0.0.0.0/tcp/4001', '--announce', `/ip4/${ip}/tcp/4001`, '--stun-port', '3478'])
    const ready = await relay.waitFor('ready', 30_000)
    relayAddr = (ready.multiaddrs as string[]).find(a => a.includes('/tcp/')) ?? ''
    stun = `stun:${ip}:3478`
  }, 90_000)

  afterAll(async () => {
    await beams?.stopAll()
    await lab?.teardown()
  }, 60_000)

  it('share behind a NAT: the relayed path crosses the relay, the WebRTC path goes peer to peer', async () => {
    const share = await beams.start('e1', ['share', '9', ...net()])
    const ready = await share.waitFor('ready', 30_000)
    const relayIp = lab.hosts.relay?.ip ?? ''
    const e1 = lab.hosts.e1?.publicIp ?? ''
    const relay0 = await routerBytes('e2', relayIp, 'tcp')
    const peer0 = await routerBytes('e2', e1, 'udp')
    const results = await benchmark('e2', String(ready.connect), 'relay,webrtc')
    const rel = results.find(r => r.backend === 'relay')
    const rtc = results.find(r => r.backend === 'webrtc')
    expect(rel, JSON.stringify(results)).toMatchObject({ ok: true })
    expect(rtc, JSON.stringify(results)).toMatchObject({ ok: true })
    const moved = (r: BeamEvent | undefined): number => Number(r?.uploadBytes ?? 0) + Number(r?.downloadBytes ?? 0)
    expect(await routerBytes('e2', relayIp, 'tcp') - relay0).toBeGreaterThan(moved(rel))
    expect(await routerBytes('e2', e1, 'udp') - peer0).toBeGreaterThan(moved(rtc))
  }, 150_000)

  it('public share: TCP and QUIC paths reach it directly', async () => {
    const ip = lab.hosts.pub?.ip ?? ''
    const share = await beams.start('pub', ['share', '9', '--listen', '/ip4/0.0.0.0/tcp/4001', '--listen', '/ip4/0.0.0.0/udp/4001/quic-v1', '--no-relay', ...net()])
    const ready = await share.waitFor('ready', 30_000)
    const tcp0 = await routerBytes('e2', ip, 'tcp')
    const udp0 = await routerBytes('e2', ip, 'udp')
    const results = await benchmark('e2', String(ready.connect), 'tcp,quic')
    const tcp = results.find(r => r.backend === 'tcp')
    const quic = results.find(r => r.backend === 'quic')
    expect(tcp, JSON.stringify(results)).toMatchObject({ ok: true })
    expect(quic, JSON.stringify(results)).toMatchObject({ ok: true })
    expect(String(tcp?.remote)).toContain(`/ip4/${ip}/tcp/4001`)
    expect(String(quic?.remote)).toContain(`/ip4/${ip}/udp/4001/quic-v1`)
    expect(await routerBytes('e2', ip, 'tcp') - tcp0).toBeGreaterThan(Number(tcp?.uploadBytes) + Number(tcp?.downloadBytes))
    expect(await routerBytes('e2', ip, 'udp') - udp0).toBeGreaterThan(Number(quic?.uploadBytes) + Number(quic?.downloadBytes))
  }, 120_000)
})
