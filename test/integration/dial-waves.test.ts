/**
 * Issue 20, item 7: the second wave of a dial race (QUIC and the other
 * addresses of a share on its default listen addresses) does not start
 * while a first-wave address whose TCP connection is already up is still in
 * its handshake. On a loaded machine that handshake outlasts the 250 ms
 * head start, and the connector then dialled every address and built QUIC
 * beside a connection that was merely slow. Real beam nodes; a TCP proxy on
 * this machine's own interface address (traffic stays on the host) accepts
 * at once and forwards to the share only after a while, as a slow handshake
 * would look; the QUIC address beside it is the share's own, and works.
 */
import { createServer, connect as tcpConnect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam } from 'beam'
import type { BeamNode } from 'beam'
import { raceDial } from '../../src/peer/connect/dialer.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { need, suiteNeeds } from '../helpers/require-tools.ts'
import { lanIp, transports } from '../helpers/same-host.ts'

const nodes: BeamNode[] = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  for (const c of cleanups.splice(0)) await c()
})

/** Accepts on `host` at once; connects to 127.0.0.1:`target` and starts forwarding `delayMs` later. */
async function slowProxy (host: string, target: number, delayMs: number): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    sockets.add(client)
    client.pause()
    client.on('error', () => {})
    const t = setTimeout(() => {
      const up = tcpConnect(target, '127.0.0.1')
      sockets.add(up)
      up.on('error', () => { client.destroy() })
      client.on('close', () => up.destroy())
      up.on('close', () => client.destroy())
      client.pipe(up).pipe(client)
      client.resume()
    }, delayMs)
    client.on('close', () => { clearTimeout(t) })
  })
  await new Promise<void>(resolve => server.listen(0, host, resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

describe('the second wave of a dial race', () => {
  it.skipIf(suiteNeeds('dial waves test', need(lanIp != null, 'this machine has no non-loopback IPv4 address')))('waits for a first address that answered to finish its handshake, and leaves QUIC unbuilt', async () => {
    const share = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1'], transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(share)
    const addrs = share.getMultiaddrs()
    const tcp = addrs.find(a => a.toString().includes('/tcp/'))
    const quic = addrs.find(a => a.toString().includes('/quic-v1'))
    expect(tcp).toBeDefined()
    expect(quic).toBeDefined()
    const tcpPort = Number(tcp?.toString().split('/tcp/')[1]?.split('/')[0])
    // well past the head start below: without the rule, QUIC is dialled long before TCP gets through
    const proxy = await slowProxy(lanIp ?? '', tcpPort, 1500)
    cleanups.push(proxy.close)

    const connector = await createBeam({ transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(connector)
    const quicTransport = transports(connector).find(t => t[Symbol.toStringTag] === '@chainsafe/libp2p-quic')
    expect(quicTransport?.loaded).toBe(false)
    const first = multiaddr(`/ip4/${lanIp ?? ''}/tcp/${proxy.port}`)
    const { connection } = await raceDial(connector.libp2p, share.peerId, {
      // the peer elsewhere (this machine: loopback only, as far as the race knows): its TCP address first, QUIC in the second wave
      addrs: [first, quic ?? first],
      localIps: new Set(['127.0.0.1', '::1']),
      secondWaveDelay: 50,
      // longer than any handshake here, so that the outcome does not depend on the machine's load
      handshakeGrace: 30_000,
      log: silentLogger(),
      signal: AbortSignal.timeout(30_000)
    })
    expect(connection.remoteAddr.toString()).toContain(`/ip4/${lanIp ?? ''}/tcp/${proxy.port}`)
    expect(quicTransport?.loaded).toBe(false)
  }, 60_000)
})
