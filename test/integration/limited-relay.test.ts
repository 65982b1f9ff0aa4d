/**
 * Limited relays are for signalling only (issue 20, item 2), in one process
 * on 127.0.0.1: a stock circuit-relay-v2 server with the library's default
 * limits (128 KiB and 2 min per relayed connection, as public libp2p nodes
 * run it), a beam share that listens nowhere but holds a reservation on it,
 * and a connector that knows only the share's relayed addresses. Every byte
 * to and from the relay passes a counting TCP forwarder in front of it (the
 * relay announces the forwarder's address), so the test sees what the relay
 * carried.
 */
import { createHash } from 'node:crypto'
import { createServer, connect as netConnect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam, LimitedRelayOnlyError, PeerUnreachableError, TunnelRefusedError, TUNNEL_PROTOCOL, newAccessSecret } from 'beam'
import type { BeamInit, BeamNode, LimitedRelayEvent, PathInfo } from 'beam'
import { lpStream } from '@libp2p/utils'
import { accessProof, sendTunnelRequest, sendReversalRequest, decodeReversalResponse, ReversalStatus, REVERSAL_PROTOCOL, TunnelStatus } from '../../src/signaling/index.ts'
import { REVERSAL_ATTEMPTS_PER_PEER } from '../../src/peer/share/reversal.ts'
import { block, freePort, readAll, startTcpService, tcpConnect } from '../helpers/services.ts'

const LOCAL_WEBRTC: BeamInit = { iceServers: [], webrtcBindAddress: '127.0.0.1' }
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

/** A TCP forwarder to `target()` that counts the bytes of each forwarded connection (both directions). */
async function countingForwarder (target: () => number): Promise<{ port: number, perConnection: number[], close: () => Promise<void> }> {
  const perConnection: number[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    const i = perConnection.push(0) - 1
    const up = netConnect(target(), '127.0.0.1')
    sockets.add(client).add(up)
    const count = (n: number): void => { perConnection[i] = (perConnection[i] ?? 0) + n }
    client.on('data', (b: Buffer) => { count(b.length) })
    up.on('data', (b: Buffer) => { count(b.length) })
    client.pipe(up).pipe(client)
    const end = (): void => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up) }
    client.on('error', end).on('close', end)
    up.on('error', end).on('close', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    perConnection,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/**
 * A stock js-libp2p relay (circuitRelayServer() with its defaults: every
 * relayed connection limited to 128 KiB and 2 min) behind a counting
 * forwarder; its address is the forwarder's.
 */
async function stockRelay (): Promise<{ addr: string, perConnection: number[] }> {
  // the relay announces the forwarder's address only: its own port is chosen here
  const relayPort = await freePort()
  const fwd = await countingForwarder(() => relayPort)
  const relay = await createLibp2p({
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${relayPort}`], announce: [`/ip4/127.0.0.1/tcp/${fwd.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer() },
    // loopback only: the default gater refuses private addresses
    connectionGater: { denyDialMultiaddr: () => false }
  })
  cleanups.push(async () => { await relay.stop(); await fwd.close() })
  return { addr: `/ip4/127.0.0.1/tcp/${fwd.port}/p2p/${relay.peerId.toString()}`, perConnection: fwd.perConnection }
}

async function beam (init: BeamInit): Promise<BeamNode> {
  const n = await createBeam({ dht: false, ...init })
  cleanups.push(async () => { await n.stop() })
  return n
}

/** A share with no listener of its own, reserved on `relayAddr`, of a fresh echo service; `webrtc` as the share runs it. */
async function hiddenShare (relayAddr: string, options: { webrtc?: boolean, secret?: Uint8Array } = {}): Promise<{ node: BeamNode, connect: string, accepted: () => number }> {
  const svc = await startTcpService(s => { s.pipe(s) })
  cleanups.push(svc.close)
  const node = await beam({ ...LOCAL_WEBRTC, listen: [], bootstrap: [multiaddr(relayAddr)], reservations: 1, ...(options.webrtc === false ? { transports: { webrtc: false } } : {}) })
  const relayed = await node.waitForReservation({ timeout: 30_000 })
  expect(relayed.length).toBeGreaterThan(0)
  await node.share({ services: [{ port: svc.port }], access: options.secret != null ? { mode: 'secret', secret: options.secret } : { mode: 'public' } })
  const connect = node.connectString(options.secret)
  return { node, connect, accepted: svc.accepted }
}

describe('a relay that limits its connections carries signalling, never a tunnel', () => {
  it('the tunnel runs over a direct WebRTC path signalled through the stock relay: 8 MiB exact, the relay carried < 256 KiB a connection', async () => {
    const relay = await stockRelay()
    const share = await hiddenShare(relay.addr)
    // the connector knows the share's relayed addresses only
    const known = share.connect
    const connector = await beam({ ...LOCAL_WEBRTC, listen: [] })
    const limited: LimitedRelayEvent[] = []
    const tunnel = await connector.connect(known, { signal: AbortSignal.timeout(90_000), onLimited: e => { limited.push(e) } })
    cleanups.push(async () => { await tunnel.close() })
    // the probe went over the limited relay; the port opened once a direct path was up
    // what the connection has left of the relay's 128 KiB (identify and a ping crossed it);
    // the time as js-libp2p's relay states it (in ms where the protocol says s)
    expect(limited[0]?.state).toBe('waiting')
    expect(limited[0]?.limits.bytes).toBeGreaterThan(100 * 1024)
    expect(limited[0]?.limits.bytes).toBeLessThanOrEqual(128 * 1024)
    expect(limited[0]?.limits.seconds).toBeGreaterThan(0)
    expect(limited.at(-1)?.state).toBe('direct')
    const path = tunnel.path ?? await new Promise<PathInfo>(resolve => tunnel.once('path', resolve))
    expect(path).toMatchObject({ direct: true, transport: 'webrtc' })
    const mib = 8
    const s = await tcpConnect(tunnel.port)
    const sent = createHash('sha256')
    for (let i = 0; i < mib; i++) { const b = block(41, i); sent.update(b); s.write(b) }
    s.end()
    const { data, error } = await readAll(s, 90_000)
    expect(error).toBeUndefined()
    expect(data.length).toBe(mib * 1024 * 1024)
    expect(createHash('sha256').update(data).digest('hex')).toBe(sent.digest('hex'))
    // the relay carried the reservation, the probe and the SDP, not the 16 MiB of the echo
    expect(relay.perConnection.length).toBeGreaterThanOrEqual(2)
    for (const bytes of relay.perConnection) expect(bytes).toBeLessThan(256 * 1024)
  }, 180_000)

  it('without WebRTC on the connector: PeerUnreachableError (LimitedRelayOnlyError) at once, and not one byte reaches the service', async () => {
    const relay = await stockRelay()
    const share = await hiddenShare(relay.addr)
    const connector = await beam({ ...LOCAL_WEBRTC, listen: [], transports: { webrtc: false } })
    const started = Date.now()
    const err = await connector.connect(share.connect, { signal: AbortSignal.timeout(60_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(LimitedRelayOnlyError)
    expect(err).toBeInstanceOf(PeerUnreachableError)
    expect(err).toMatchObject({ name: 'LimitedRelayOnlyError', webrtcOff: true })
    expect((err as Error).message).toMatch(/relay that limits connections \(128 KiB, [^)]+\), which carries signalling but no tunnel; WebRTC is off/)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(share.accepted()).toBe(0)
  }, 120_000)

  it('a share that offers no WebRTC: the connector waits directPathTimeout, then gives up with the reason', async () => {
    const relay = await stockRelay()
    const share = await hiddenShare(relay.addr, { webrtc: false })
    const connector = await beam({ ...LOCAL_WEBRTC, listen: [] })
    const limited: LimitedRelayEvent[] = []
    const started = Date.now()
    const err = await connector.connect(share.connect, { directPathTimeout: 3000, onLimited: e => { limited.push(e) }, signal: AbortSignal.timeout(60_000) }).then(() => undefined, (e: unknown) => e)
    const took = Date.now() - started
    expect(err).toBeInstanceOf(LimitedRelayOnlyError)
    expect((err as Error).message).toMatch(/no direct path came within 3(\.\d)? s \(the peer offers no WebRTC address\)/)
    expect(took).toBeGreaterThanOrEqual(3000)
    expect(took).toBeLessThan(30_000)
    expect(limited.map(e => e.state)).toEqual(['waiting', 'failed'])
    expect(share.accepted()).toBe(0)
  }, 120_000)

  it('the probe still crosses it (a wrong secret is a refusal, not a wait), and the share refuses a tunnel over it before the service sees a byte', async () => {
    const relay = await stockRelay()
    const secret = newAccessSecret()
    const share = await hiddenShare(relay.addr, { secret })
    const connector = await beam({ ...LOCAL_WEBRTC, listen: [] })
    const refused = await connector.connect(share.node.connectString(newAccessSecret()), { signal: AbortSignal.timeout(60_000) }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(TunnelRefusedError)
    // a connector that does not play by the rules (an old beam) asks for a tunnel over the limited connection
    const conn = connector.libp2p.getConnections(share.node.peerId).find(c => c.limits != null) ?? await connector.libp2p.dial(share.node.peerId)
    expect(conn.limits).toBeDefined()
    const stream = await conn.newStream(TUNNEL_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10_000) })
    const proof = accessProof(secret, connector.libp2p.peerId.toMultihash().bytes, share.node.peerId.toMultihash().bytes)
    // with early data behind the request: it must not reach the service either
    const { response: res } = await sendTunnelRequest(stream, { port: 0, probe: false, proof }, { early: Buffer.from('GET / HTTP/1.1\r\n\r\n'), signal: AbortSignal.timeout(10_000) })
    expect(res.status).toBe(TunnelStatus.LIMITED_CONNECTION)
    expect(res.reason).toMatch(/limits its connections/)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(share.accepted()).toBe(0)
  }, 120_000)

  it('connection reversal over the limited relay: the share dials back no peer without access, no address that is not public, and at most 3 times per peer', async () => {
    const relay = await stockRelay()
    const secret = newAccessSecret()
    const share = await hiddenShare(relay.addr, { secret })
    // a connector that listens on loopback only: nothing it could be dialled back on
    const connector = await beam({ ...LOCAL_WEBRTC, listen: ['/ip4/127.0.0.1/tcp/0'], transports: { webrtc: false } })
    const err = await connector.connect(share.connect, { signal: AbortSignal.timeout(60_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ name: 'LimitedRelayOnlyError' })
    expect((err as Error).message).toMatch(/WebRTC is off on this node, so no direct path can be made, and this node has no public TCP or QUIC address the share could dial back/)
    const conn = connector.libp2p.getConnections(share.node.peerId).find(c => c.limits != null) ?? await connector.libp2p.dial(share.node.peerId)
    expect(conn.limits).toBeDefined()
    const ask = async (req: Parameters<typeof sendReversalRequest>[1]): Promise<Awaited<ReturnType<typeof sendReversalRequest>>> => {
      const stream = await conn.newStream(REVERSAL_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10_000) })
      return await sendReversalRequest(stream, req, { signal: AbortSignal.timeout(20_000) })
    }
    const own = connector.libp2p.getMultiaddrs().map(a => a.decapsulateCode(421))
    expect(own.some(a => a.toString().startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
    // no proof of the secret: refused before anything else
    expect(await ask({ addresses: own })).toMatchObject({ status: ReversalStatus.UNAUTHORIZED })
    const proof = accessProof(secret, connector.libp2p.peerId.toMultihash().bytes, share.node.peerId.toMultihash().bytes)
    // its own announced loopback address, and a LAN address: neither is dialled
    const lan = await ask({ proof, addresses: [...own, multiaddr('/ip4/192.168.1.1/tcp/22')] })
    expect(lan).toMatchObject({ status: ReversalStatus.NO_ADDRESS })
    expect(lan.reason).toMatch(/public TCP or QUIC address the peer announced/)
    // the per-peer budget: the request above counts (the unauthorized one did not), up to 3
    for (let i = 1; i < REVERSAL_ATTEMPTS_PER_PEER; i++) expect((await ask({ proof, addresses: own })).status).toBe(ReversalStatus.NO_ADDRESS)
    const capped = await ask({ proof, addresses: own })
    expect(capped).toMatchObject({ status: ReversalStatus.RATE_LIMITED })
    expect(capped.reason).toMatch(/at most 3 connection reversals per peer in 10 min/)
    // a frame that does not decode is answered BAD_REQUEST
    const raw = lpStream(await conn.newStream(REVERSAL_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10_000) }))
    await raw.write(new Uint8Array([1, 5, 0]), { signal: AbortSignal.timeout(10_000) })
    expect(decodeReversalResponse((await raw.read({ signal: AbortSignal.timeout(10_000) })).subarray())).toMatchObject({ status: ReversalStatus.BAD_REQUEST, reason: 'bad proof length 5' })
    // the share opened no connection to the connector: its only one is still the relayed one
    expect(share.node.libp2p.getConnections(connector.libp2p.peerId).every(c => c.limits != null)).toBe(true)
  }, 120_000)
})
