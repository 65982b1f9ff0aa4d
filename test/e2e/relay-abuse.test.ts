/**
 * `beam relay` with its default per-address caps against a flood of
 * reservations from one address: bare libp2p nodes with throwaway peer ids
 * (test/helpers/hop-client.ts) reserve from 127.0.0.1 until the per-IP cap;
 * a real `beam share` reaching the relay over ::1 (another address group)
 * still gets a reservation, and a `beam connect` carries a tunnel to it
 * through the relay.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { BeamProcess, OFFLINE, tempHome } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash } from '../helpers/services.ts'
import { rawPeer, reserve, STATUS } from '../helpers/hop-client.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function beam (args: string[]): Promise<BeamProcess> {
  const home = await tempHome()
  const proc = new BeamProcess(args, { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  return proc
}

async function metric (url: string, line: RegExp): Promise<number> {
  const text = await (await fetch(url)).text()
  return Number(line.exec(text)?.[1] ?? NaN)
}

describe('beam relay against a reservation flood', () => {
  it('throwaway ids from one IP stop at the per-IP cap; a share from another address still reserves and carries a tunnel', async () => {
    const http = await startHttpService()
    cleanups.push(async () => { await http.close() })
    // room for 12 reservations: without a per-IP cap the flood below takes all of them
    const total = 12
    const relay = await beam(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip6/::1/tcp/0', '--stun-port', '0',
      '--metrics', '127.0.0.1:0', '--max-reservations', String(total), '--json'])
    const ready = await relay.waitFor('ready', 30_000)
    const addrs = ready.multiaddrs as string[]
    const v4 = addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? ''
    const v6 = addrs.find(a => a.startsWith('/ip6/::1/')) ?? ''
    const metrics = String(ready.metrics)
    expect(v4).not.toBe('')
    expect(v6).not.toBe('')

    // the flood: one fresh peer id per request, all from 127.0.0.1, connections kept open
    const answers: Array<number | undefined> = []
    for (let i = 0; i < total; i++) {
      const p: Libp2p = await rawPeer({ localAddress: '127.0.0.1' })
      cleanups.push(async () => { await p.stop() })
      answers.push(await reserve(p, v4))
    }
    const granted = answers.filter(a => a === STATUS.OK).length
    // the default --max-reservations-per-ip
    expect(granted).toBe(8)
    expect(answers.slice(granted).every(a => a === STATUS.RESOURCE_LIMIT_EXCEEDED)).toBe(true)
    expect(await metric(metrics, /^beam_relay_cap_refusals_total\{cap="reservations_per_ip"\} (\d+)$/m)).toBe(total - granted)

    // a legitimate share reaching the relay over ::1 gets a reservation
    const share = await beam(['share', String(http.port), '--no-listen', ...OFFLINE, '--bootstrap', v6, '--json'])
    const shared = await share.waitFor('ready', 30_000)
    expect((shared.multiaddrs as string[]).some(m => m.includes('/p2p-circuit'))).toBe(true)
    expect(await metric(metrics, /^beam_relay_reservations (\d+)$/m)).toBe(granted + 1)

    // and carries a tunnel through the relay, byte for byte
    const connect = await beam(['connect', String(shared.connect), ...OFFLINE, '--bootstrap', v4, '--no-webrtc', '--json'])
    const listening = await connect.waitFor('listening', 40_000)
    const path = await connect.waitFor('path', 15_000)
    expect(path).toMatchObject({ direct: false, transport: 'relay' })
    const got = await httpGet(Number(listening.port), '/download?mib=4&seed=31')
    expect(got.sha256).toBe(expectedHash(31, 4))
  }, 180_000)
})
