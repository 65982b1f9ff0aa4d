/**
 * Reservations (src/peer/node/reservations.ts): the wait for a relay
 * reservation gives up as soon as every bootstrap node has failed, and waits
 * its full time when there is no bootstrap node to fail. Real libp2p nodes;
 * the bootstrap node is a loopback port that nothing listens on.
 */
import net from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { Reservations, identifiedProtocols } from '../../../../src/peer/node/reservations.ts'
import { relayedAddrs } from '../../../../src/peer/node/addresses.ts'
import { NodeRelayServer } from '../../../../src/peer/node/relay-server.ts'
import { createBeam, silentLogger } from '../../../../src/peer/index.ts'
import type { BeamNode } from '../../../../src/peer/index.ts'

let node: BeamNode
let closedPort = 0
beforeAll(async () => {
  node = await createBeam({ dht: false })
  // a port that was free a moment ago: a dial to it is refused at once
  const s = net.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  closedPort = (s.address() as net.AddressInfo).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
})
afterAll(async () => { await node.stop() })

describe('Reservations', () => {
  it('stops waiting once every bootstrap node failed, and reports each failure', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const bootstrap = [multiaddr(`/ip4/127.0.0.1/tcp/${closedPort}/p2p/${peer.toString()}`)]
    const failed: string[] = []
    const r = new Reservations({
      libp2p: node.libp2p,
      bootstrap,
      addresses: () => node.getMultiaddrs(),
      log: silentLogger(),
      events: { bootstrapFailed: e => { failed.push(e.multiaddr) }, noRelay: () => {} }
    })
    const start = performance.now()
    const waiting = r.waitForReservation({ timeout: 30_000 })
    r.connectBootstrap()
    expect(await waiting).toEqual([])
    expect(performance.now() - start).toBeLessThan(15_000)
    expect(failed).toEqual([bootstrap[0]?.toString()])
    // every bootstrap node failed: that is not "none of them runs a relay"
    expect(r.bootstrapRunsNoRelay).toBe(false)
    expect(r.bootstrapAddrs.map(a => a.toString())).toEqual(bootstrap.map(a => a.toString()))
  })

  it('without bootstrap nodes waits its full time, then resolves empty', async () => {
    const r = new Reservations({ libp2p: node.libp2p, bootstrap: [], addresses: () => [], log: silentLogger(), events: { bootstrapFailed: () => {}, noRelay: () => {} } })
    const start = performance.now()
    expect(await r.waitForReservation({ timeout: 150 })).toEqual([])
    expect(performance.now() - start).toBeGreaterThanOrEqual(140)
  })

  it('ends the wait when its signal aborts', async () => {
    const r = new Reservations({ libp2p: node.libp2p, bootstrap: [], addresses: () => [], log: silentLogger(), events: { bootstrapFailed: () => {}, noRelay: () => {} } })
    const start = performance.now()
    expect(await r.waitForReservation({ timeout: 30_000, signal: AbortSignal.timeout(50) })).toEqual([])
    expect(performance.now() - start).toBeLessThan(10_000)
  })
})

describe('relayedAddrs', () => {
  it('keeps the relayed addresses only', () => {
    const relayed = multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit')
    expect(relayedAddrs([multiaddr('/ip4/127.0.0.1/tcp/4001'), relayed])).toEqual([relayed])
  })
})

describe('identifiedProtocols', () => {
  it('is undefined for a peer identify has not answered for', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    expect(await identifiedProtocols(node.libp2p, peer)).toBeUndefined()
  })
})

describe('NodeRelayServer', () => {
  it('reports zeros on a node that runs no relay, and installs nothing', async () => {
    const relay = new NodeRelayServer({ libp2p: node.libp2p, log: silentLogger() })
    await relay.start()
    expect(relay.accounting).toBeUndefined()
    const stats = relay.stats()
    expect(stats).toMatchObject({ reservations: 0, circuits: 0, bytesRelayed: 0, reservationsAccepted: 0, circuitsAccepted: 0, reservationsDropped: 0 })
    relay.stop()
  })
})
