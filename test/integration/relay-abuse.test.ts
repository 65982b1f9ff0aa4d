/**
 * A relay (createBeam with relayServer) against one abusive client, in one
 * process on loopback: bare libp2p nodes with throwaway peer ids speak HOP to
 * it from chosen source addresses (127.0.0.1, 127.0.0.2 in the same /24,
 * 127.0.1.1 in another /24, ::1), so the per-address caps, the per-subnet
 * caps and the reservation grace drop are seen exactly as a client sees them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createBeam } from 'beam'
import type { BeamNode, RelayLimits } from 'beam'
import type { Libp2p, Stream } from '@libp2p/interface'
import { acceptRelayed, connectVia, hop, rawPeer, reserve, STATUS } from '../helpers/hop-client.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function relayNode (limits: RelayLimits): Promise<{ relay: BeamNode, v4: string, v6: string }> {
  const relay = await createBeam({ dht: false, listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'], relayServer: limits, transports: { webrtc: false } })
  cleanups.push(async () => { await relay.stop() })
  const id = relay.peerId.toString()
  const addrs = relay.getMultiaddrs().map(m => `${m.toString()}/p2p/${id}`)
  const v4 = addrs.find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''
  const v6 = addrs.find(a => a.startsWith('/ip6/::1/tcp/')) ?? ''
  expect(v4).not.toBe('')
  expect(v6).not.toBe('')
  return { relay, v4, v6 }
}

async function peer (localAddress?: string): Promise<Libp2p> {
  const p = await rawPeer(localAddress != null ? { localAddress } : {})
  cleanups.push(async () => { await p.stop() })
  return p
}

/** Poll until `check` is true (every 100 ms); fails after `ms`. */
async function until (what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

describe('relay caps by address', () => {
  it('reservations: throwaway ids from one IP stop at the per-IP cap, its /24 at the per-subnet cap; other addresses and renewals get through', async () => {
    const { relay, v4, v6 } = await relayNode({ maxReservationsPerIp: 3, maxReservationsPerSubnet: 4 })
    // five fresh peer ids from 127.0.0.1
    const flood: Array<number | undefined> = []
    const floodPeers: Libp2p[] = []
    for (let i = 0; i < 5; i++) {
      const p = await peer('127.0.0.1')
      floodPeers.push(p)
      flood.push(await reserve(p, v4))
    }
    expect(flood).toEqual([STATUS.OK, STATUS.OK, STATUS.OK, STATUS.RESOURCE_LIMIT_EXCEEDED, STATUS.RESOURCE_LIMIT_EXCEEDED])
    // a holder renewing its own reservation is not counted against itself
    expect(await reserve(floodPeers[0] as Libp2p, v4)).toBe(STATUS.OK)
    // another IP of the same /24: one more fits under the subnet cap of 4, then no more
    expect(await reserve(await peer('127.0.0.2'), v4)).toBe(STATUS.OK)
    expect(await reserve(await peer('127.0.0.3'), v4)).toBe(STATUS.RESOURCE_LIMIT_EXCEEDED)
    // another /24, and IPv6: untouched by the flood
    expect(await reserve(await peer('127.0.1.1'), v4)).toBe(STATUS.OK)
    expect(await reserve(await peer(), v6)).toBe(STATUS.OK)
    const s = relay.relayStats()
    expect(s.reservations).toBe(6)
    expect(s.capRefusals).toEqual({ reservations_per_ip: 2, reservations_per_subnet: 1 })
    expect(s.refusals.resource_limit_exceeded).toBe(3)
  }, 60_000)

  it('relayed connections: one IP opens at most the per-IP cap at once, its /24 the per-subnet cap; a closed one frees its slot', async () => {
    const { relay, v4, v6 } = await relayNode({ maxCircuitsPerIp: 2, maxCircuitsPerSubnet: 3 })
    const target = await peer('127.0.9.9')
    const held = await acceptRelayed(target)
    expect(await reserve(target, v4)).toBe(STATUS.OK)
    const open: Stream[] = []
    const connect = async (p: Libp2p, via = v4): Promise<number | undefined> => {
      const r = await connectVia(p, via, target.peerId)
      if (r.status === STATUS.OK) open.push(r.stream)
      return r.status
    }
    const a = [await peer('127.0.0.1'), await peer('127.0.0.1'), await peer('127.0.0.1')]
    expect(await connect(a[0] as Libp2p)).toBe(STATUS.OK)
    expect(await connect(a[1] as Libp2p)).toBe(STATUS.OK)
    expect(await connect(a[2] as Libp2p)).toBe(STATUS.RESOURCE_LIMIT_EXCEEDED)
    // same /24, another IP: the third of the subnet, then the subnet is full
    expect(await connect(await peer('127.0.0.2'))).toBe(STATUS.OK)
    expect(await connect(await peer('127.0.0.3'))).toBe(STATUS.RESOURCE_LIMIT_EXCEEDED)
    // from elsewhere: through
    expect(await connect(await peer('127.0.1.1'))).toBe(STATUS.OK)
    expect(await connect(await peer(), v6)).toBe(STATUS.OK)
    await until('the target to hold five relayed connections', () => held.length === 5)
    expect(relay.relayStats().capRefusals).toEqual({ circuits_per_ip: 1, circuits_per_subnet: 1 })
    // one of 127.0.0.1's relayed connections ends: its slot is free again
    open[0]?.abort(new Error('test closes it'))
    await until('a freed slot', async () => await connect(a[2] as Libp2p) === STATUS.OK)
  }, 60_000)
})

describe('reading the request before the library', () => {
  it('a request split across writes is still read whole; one that claims more than 4 KiB is answered MALFORMED_MESSAGE', async () => {
    const { relay, v4 } = await relayNode({})
    // RESERVE in two pieces: the length prefix, then the body
    expect((await hop(await peer(), v4, Uint8Array.from([2]), Uint8Array.from([0x08, 0x00]))).status).toBe(STATUS.OK)
    // a length prefix of 5000 (0x88 0x27)
    expect((await hop(await peer(), v4, Uint8Array.from([0x88, 0x27, 0x08, 0x00]))).status).toBe(STATUS.MALFORMED_MESSAGE)
    const s = relay.relayStats()
    expect(s.reservations).toBe(1)
    expect(s.refusals.malformed_message).toBe(1)
  }, 30_000)
})

describe('reservation grace', () => {
  it('drops a reservation once its holder has been gone for the grace period; a holder back within it keeps its reservation', async () => {
    const graceMs = 3000
    const { relay, v4 } = await relayNode({ reservationGraceMs: graceMs })
    const leaverKey = await generateKeyPair('Ed25519')
    const returnerKey = await generateKeyPair('Ed25519')
    const leaver = await rawPeer({ privateKey: leaverKey })
    const returner = await rawPeer({ privateKey: returnerKey })
    expect(await reserve(leaver, v4)).toBe(STATUS.OK)
    expect(await reserve(returner, v4)).toBe(STATUS.OK)
    expect(relay.relayStats().reservations).toBe(2)
    // a connected holder keeps its reservation past the grace period
    await new Promise(resolve => setTimeout(resolve, graceMs + 500))
    expect(relay.relayStats().reservations).toBe(2)

    const left = Date.now()
    await leaver.stop()
    await returner.stop()
    await until('the relay to see both holders gone', () => relay.relayStats().connections === 0, 10_000)
    // the returner is back (same peer id) well within the grace period, and only connects
    const back = await rawPeer({ privateKey: returnerKey })
    cleanups.push(async () => { await back.stop() })
    await back.dial((await import('@multiformats/multiaddr')).multiaddr(v4))
    await until('the leaver\'s reservation to be dropped', () => relay.relayStats().reservationsDropped === 1, graceMs + 10_000)
    const droppedAfter = Date.now() - left
    expect(droppedAfter).toBeGreaterThanOrEqual(graceMs)
    // the returner's reservation is still there a whole grace period later
    await new Promise(resolve => setTimeout(resolve, graceMs + 500))
    const s = relay.relayStats()
    expect(s.reservations).toBe(1)
    expect(s.reservationsDropped).toBe(1)
  }, 60_000)
})
