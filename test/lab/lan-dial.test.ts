/**
 * Issue 20, item 7, for a share on another host: a share started with its
 * defaults listens on TCP and QUIC on every interface, and its connect string
 * carries all of them (the lab host's address and loopback, TCP and QUIC). A
 * connector on another host of the same segment dials the share's TCP
 * address first and, when it answers, never dials QUIC (so never builds
 * QUIC's native client) nor the share's loopback addresses (which lead to the
 * connector's own machine). Two public lab hosts, real `beam` processes; the
 * dials are read from the connector's debug log ('dialing'), no timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LabBeams } from './lab-beam.ts'
import { expectedHash } from '../helpers/services.ts'
import { createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'
import { LAB_HTTP } from './lab-http.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()
const skipLab = suiteNeeds('LAN dial lab test', avail)

/** The addresses a beam process logged a 'dialing' line for (BEAM_LOG_LEVEL=debug, the test default). */
function dialled (stderr: string): string[] {
  const out: string[] = []
  for (const line of stderr.split('\n')) {
    if (!line.includes('"dialing"')) continue
    try {
      const l = JSON.parse(line) as { msg?: string, address?: string }
      if (l.msg === 'dialing' && l.address != null) out.push(l.address)
    } catch {}
  }
  return out
}

describe.skipIf(skipLab)('a connector on the same segment as a share on its default listen addresses', () => {
  let lab: Lab
  let beams: LabBeams

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'a' }, { name: 'b' }] })
    beams = new LabBeams(lab)
  }, 60_000)

  afterAll(async () => {
    await beams?.stopAll()
    await lab?.teardown()
  }, 60_000)

  it('dials the share\'s TCP address first and neither QUIC nor loopback once TCP answers', async () => {
    const offline = ['--no-default-bootstrap', '--ephemeral', '--no-webrtc']
    const svc = new JsonLines(lab.spawn('a', [process.execPath, LAB_HTTP, 'serve']))
    const port = Number((await svc.waitFor(l => l.event === 'ready')).port)
    // no --listen: TCP and QUIC on every interface, IPv4 and IPv6
    const share = await beams.start('a', ['share', String(port), ...offline])
    const ready = await share.waitFor('ready', 30_000)
    const offered = (ready.multiaddrs as string[]) ?? []
    const ip = lab.hosts.a?.ip ?? ''
    expect(offered.some(m => m.startsWith(`/ip4/${ip}/tcp/`)), offered.join(' ')).toBe(true)
    expect(offered.some(m => m.startsWith(`/ip4/${ip}/udp/`) && m.includes('/quic-v1')), offered.join(' ')).toBe(true)

    const connect = await beams.start('b', ['connect', String(ready.connect), ...offline])
    const listening = await connect.waitFor('listening', 40_000)
    const g = new JsonLines(lab.spawn('b', [process.execPath, LAB_HTTP, 'get', String(listening.port), '/download?mib=1&seed=41']))
    const got = await g.waitFor(l => l.event === 'done' || l.event === 'error', 60_000)
    expect(got.event, JSON.stringify(got)).toBe('done')
    expect(got.sha256).toBe(expectedHash(41, 1))
    const path = await connect.waitFor('path', 10_000)
    expect({ direct: path.direct, transport: path.transport }).toEqual({ direct: true, transport: 'tcp' })
    expect(String(path.remote)).toMatch(new RegExp(`^/ip4/${ip.replace(/\./g, '\\.')}/tcp/`))
    // well past the second wave's head start (250 ms): a dial it would start is logged by now
    await new Promise(resolve => setTimeout(resolve, 1500))
    const dials = dialled(connect.stderr)
    expect(dials.length, connect.stderr.slice(-3000)).toBeGreaterThan(0)
    expect(dials.filter(a => a.includes('/quic-v1')), dials.join(' ')).toEqual([])
    expect(dials.filter(a => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a)), dials.join(' ')).toEqual([])
  }, 120_000)
})
