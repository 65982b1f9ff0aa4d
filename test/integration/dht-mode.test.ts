/**
 * Who is a Kademlia DHT server. Shares, connectors and apps are clients:
 * they look up and publish, but store nothing for others, answer no DHT
 * request and never enter another node's routing table. Relays and nodes
 * with `dht: { server: true }` are servers. Real libp2p nodes on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { once } from 'node:events'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam, DEFAULT_DHT_PROTOCOL } from 'beam'
import type { BeamNode } from 'beam'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const OFF = { webrtc: false, quic: false }
const nodes: BeamNode[] = []
let server: BeamNode
let relay: BeamNode
let share: BeamNode
let connector: BeamNode

async function node (init: Parameters<typeof createBeam>[0]): Promise<BeamNode> {
  const n = await createBeam({ transports: OFF, iceServers: [], ...init })
  nodes.push(n)
  return n
}

const addrOf = (n: BeamNode): string => `${n.getMultiaddrs()[0]?.toString() ?? ''}/p2p/${n.peerId.toString()}`

interface RoutingTable { size: number, find: (peer: BeamNode['peerId']) => Promise<unknown> }
const routingTable = (n: BeamNode): RoutingTable => (n.libp2p.services.dht as { routingTable: RoutingTable }).routingTable

async function until (what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  server = await node({ listen: LISTEN, dht: { server: true } })
  relay = await node({ listen: LISTEN, relayServer: {}, bootstrap: [multiaddr(addrOf(server))] })
  const boot = [multiaddr(addrOf(server)), multiaddr(addrOf(relay))]
  // a share as `beam share` builds it: listening, DHT on with no option
  share = await node({ listen: LISTEN, bootstrap: boot })
  await share.share({ services: [{ port: 9 }], access: { mode: 'public' } })
  // a connector: no listener
  connector = await node({ bootstrap: boot })
}, 60_000)

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

describe('DHT mode', () => {
  it('a share and a connector are DHT clients; a relay and `dht: { server: true }` are servers', () => {
    expect(share.status().dht?.mode).toBe('client')
    expect(connector.status().dht?.mode).toBe('client')
    expect(relay.status().dht?.mode).toBe('server')
    expect(server.status().dht?.mode).toBe('server')
  })

  it('a client does not serve the DHT protocol, so servers keep it out of their routing tables', async () => {
    expect(share.libp2p.getProtocols()).not.toContain(DEFAULT_DHT_PROTOCOL)
    expect(connector.libp2p.getProtocols()).not.toContain(DEFAULT_DHT_PROTOCOL)
    expect(server.libp2p.getProtocols()).toContain(DEFAULT_DHT_PROTOCOL)
    // the relay and the server know each other as DHT servers...
    await until('the relay in the server\'s routing table', async () => await routingTable(server).find(relay.peerId) != null)
    await until('the server in the share\'s routing table', async () => await routingTable(share).find(server.peerId) != null)
    // ...and both are connected to the clients, yet hold neither of them
    expect(server.libp2p.getConnections(share.peerId).length).toBeGreaterThan(0)
    expect(relay.libp2p.getConnections(connector.peerId).length).toBeGreaterThan(0)
    for (const s of [server, relay]) {
      expect(await routingTable(s).find(share.peerId)).toBeUndefined()
      expect(await routingTable(s).find(connector.peerId)).toBeUndefined()
    }
  }, 60_000)

  it('a client still publishes itself and finds others (through the servers)', async () => {
    const published = once(share, 'published')
    share.startPublishing(['web'])
    await published
    const found = await connector.lookup(share.peerId, AbortSignal.timeout(30_000))
    expect(found.multiaddrs.map(m => m.toString())).toContain(share.getMultiaddrs()[0]?.toString())
    // and a client's signed record goes to the servers and back
    const put = await share.records.put('profile', Buffer.from('hello'))
    const got = await connector.records.get(share.peerId, 'profile', { signal: AbortSignal.timeout(30_000) })
    expect(got.seq).toBe(put.seq)
    expect(Buffer.from(got.value).toString()).toBe('hello')
  }, 90_000)
})
