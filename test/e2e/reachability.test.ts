import { afterEach, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, startShare, tempHome } from '../helpers/beam.ts'

// A share says how far it can be reached (docs/cli.md, `reachability`): on
// loopback only it is lan-only, with a hint; holding a reservation on a beam
// relay it is relayed; on a relay that limits relayed connections it is
// signalling-only; and the state follows the reservation when the relay goes.

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function relay (args: string[] = []): Promise<{ proc: BeamProcess, addr: string }> {
  const home = await tempHome()
  const proc = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--json', ...args], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, addr: (ready.multiaddrs as string[])[0] ?? '' }
}

async function relayedShare (relayAddr: string): Promise<BeamProcess> {
  const home = await tempHome()
  const proc = new BeamProcess(['share', '9', '--no-listen', ...OFFLINE, '--bootstrap', relayAddr, '--json'], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  return proc
}

describe('share reachability', () => {
  it('a share on loopback without any relay is lan-only and says what to do', async () => {
    const home = await tempHome()
    const { proc, ready } = await startShare(['9'], home.dir)
    cleanups.push(async () => { await proc.stop(); await home.cleanup() })
    expect(ready.reachability).toBe('lan-only')
    expect(ready.hint).toMatch(/nothing outside this network can reach this share/)
    expect(ready.hint).toMatch(/--bootstrap/)
  })

  it('a share holding a reservation on a beam relay is relayed; when the relay goes it becomes lan-only', async () => {
    const r = await relay()
    const share = await relayedShare(r.addr)
    const ready = await share.waitFor('ready', 40_000)
    expect(ready.multiaddrs as string[]).toEqual(expect.arrayContaining([expect.stringContaining('/p2p-circuit')]))
    expect(ready.reachability).toBe('relayed')
    expect(ready.hint).toBeUndefined()
    await r.proc.stop()
    const after = await share.waitFor('addresses', 40_000, e => e.reachability === 'lan-only')
    expect(after.hint).toMatch(/--bootstrap/)
  })

  it('a share whose only relay limits relayed connections is signalling-only, with a hint', async () => {
    const r = await relay(['--max-bytes', '128KiB', '--max-duration', '2m'])
    const share = await relayedShare(r.addr)
    const ready = await share.waitFor('ready', 40_000)
    expect(ready.multiaddrs as string[]).toEqual(expect.arrayContaining([expect.stringContaining('/p2p-circuit')]))
    expect(ready.reachability).toBe('signalling-only')
    expect(ready.hint).toMatch(/limited relays/)
  })
})
