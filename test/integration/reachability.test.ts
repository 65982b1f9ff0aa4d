/**
 * A node's reachability (issue 20), through the package's public exports,
 * nodes in one process on 127.0.0.1: a node on loopback only is lan-only; a
 * reservation on a relay without limits makes it relayed, one on a relay that
 * limits relayed connections signalling-only (the relay's own answer says
 * which); losing the relay makes it lan-only again, with a `reachability`
 * event each time.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam } from 'beam'
import type { BeamInit, BeamNode, Reachability } from 'beam'
import { queryRelayTerms } from '../../src/peer/node/relay-limits.ts'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const nodes: BeamNode[] = []

async function node (init: BeamInit): Promise<BeamNode> {
  const n = await createBeam({ dht: false, iceServers: [], transports: { webrtc: false }, ...init })
  nodes.push(n)
  return n
}

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

async function until (what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** A node with no listener of its own that holds a reservation on `relay`, and the reachability events it emits. */
async function hiddenBehind (relay: BeamNode): Promise<{ hidden: BeamNode, seen: Reachability[] }> {
  const relayAddr = `${relay.getMultiaddrs()[0]?.toString() ?? ''}/p2p/${relay.peerId.toString()}`
  const hidden = await node({ start: false, listen: [], bootstrap: [multiaddr(relayAddr)], reservations: 1 })
  const seen: Reachability[] = []
  hidden.on('reachability', e => { seen.push(e.reachability) })
  await hidden.start()
  expect((await hidden.waitForReservation({ timeout: 30_000 })).length).toBeGreaterThan(0)
  return { hidden, seen }
}

describe('reachability', () => {
  it('a node listening on loopback only is lan-only', async () => {
    const n = await node({ listen: LOOPBACK })
    expect(n.reachability()).toBe('lan-only')
    expect(n.status().reachability).toBe('lan-only')
  })

  it('relayed on a relay without limits; lan-only again when the relay goes', async () => {
    const relay = await node({ listen: LOOPBACK, relayServer: {} })
    const { hidden, seen } = await hiddenBehind(relay)
    expect(await hidden.settleReachability({ timeout: 20_000 })).toBe('relayed')
    expect(hidden.status().reachability).toBe('relayed')
    await until('reachability event: relayed', () => seen.includes('relayed'))
    await relay.stop()
    await until('reachability event: lan-only', () => seen.at(-1) === 'lan-only')
    expect(hidden.reachability()).toBe('lan-only')
  }, 120_000)

  it('signalling-only on a relay that limits relayed connections (as the public network\'s do)', async () => {
    const relay = await node({ listen: LOOPBACK, relayServer: { maxBytes: 128 * 1024, maxDurationMs: 120_000 } })
    const { hidden } = await hiddenBehind(relay)
    expect(await hidden.settleReachability({ timeout: 20_000 })).toBe('signalling-only')
    // what the relay itself answers to a renewal: limited, with its terms (not an unknown counted as limited);
    // a js-libp2p relay writes its duration in ms (the spec says seconds)
    const conn = hidden.libp2p.getConnections(relay.peerId)[0]
    if (conn == null) throw new Error('no connection to the relay')
    expect(await queryRelayTerms(conn)).toEqual({ ok: true, limited: true, dataBytes: 128 * 1024, duration: 120_000 })
    expect(hidden.reachability()).toBe('signalling-only')
  }, 120_000)
})
