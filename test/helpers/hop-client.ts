/**
 * Bare circuit-relay-v2 clients for relay abuse tests: plain libp2p nodes
 * (TCP, Noise, yamux; a fresh peer id each unless a key is given) that speak
 * HOP and STOP by hand, so a test controls exactly which requests a relay
 * sees, from which address, and how long the resulting streams stay open.
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import type { TCPSocketOptions } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { HOP_PROTOCOL, STOP_PROTOCOL, parseHopHeader } from '../../src/relay/index.ts'

/** Circuit relay v2 status codes used in assertions. */
export const STATUS = { OK: 100, RESOURCE_LIMIT_EXCEEDED: 201, NO_RESERVATION: 204, MALFORMED_MESSAGE: 400 } as const

export interface RawPeerInit {
  /** Keep this identity (e.g. to come back as the same peer). @default a new one */
  privateKey?: PrivateKey
  /** Source address of its TCP dials, e.g. '127.0.0.2' (any 127.x.y.z works on Linux). @default the kernel's choice */
  localAddress?: string
}

export async function rawPeer (init: RawPeerInit = {}): Promise<Libp2p> {
  // @libp2p/tcp hands its dial options to net.connect as they are; its type lists only a few
  const dialOpts: TCPSocketOptions & { localAddress?: string } = init.localAddress != null ? { localAddress: init.localAddress } : {}
  return await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    transports: [tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // test nodes dial the relay on loopback
    connectionGater: { denyDialMultiaddr: () => false },
    connectionMonitor: { enabled: false }
  })
}

/** Read one varint-length-prefixed message (at most 4 KiB); undefined if the stream ends first. */
export async function readMessage (stream: Stream, timeoutMs = 15_000): Promise<Uint8Array | undefined> {
  return await new Promise((resolve) => {
    let got = new Uint8Array(0)
    const done = (v: Uint8Array | undefined): void => {
      clearTimeout(timer)
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      resolve(v)
    }
    const onEnd = (): void => { done(undefined) }
    const onMessage = (evt: Event): void => {
      const data = (evt as Event & { data: Uint8Array | { subarray: () => Uint8Array } }).data
      const bytes = data instanceof Uint8Array ? data : data.subarray()
      const next = new Uint8Array(got.length + bytes.length)
      next.set(got)
      next.set(bytes, got.length)
      got = next
      let len = 0
      let shift = 0
      let i = 0
      for (; i < got.length && i < 3; i++) {
        len |= ((got[i] ?? 0) & 0x7f) << shift
        shift += 7
        if (((got[i] ?? 0) & 0x80) === 0) break
      }
      if (i < got.length && got.length >= i + 1 + len) done(got.subarray(0, i + 1 + len))
    }
    const timer = setTimeout(() => { done(undefined) }, timeoutMs)
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onEnd)
  })
}

/**
 * Send one HOP request (in the pieces given, 50 ms apart) and read the relay's
 * status; the stream stays open (a CONNECT's is the relayed connection).
 */
export async function hop (node: Libp2p, relay: string, ...pieces: Uint8Array[]): Promise<{ status: number | undefined, stream: Stream }> {
  const stream = await node.dialProtocol(multiaddr(relay), HOP_PROTOCOL, { signal: AbortSignal.timeout(15_000) })
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) await new Promise(resolve => setTimeout(resolve, 50))
    stream.send(piece)
  }
  const answer = await readMessage(stream)
  return { status: answer != null ? parseHopHeader(answer)?.status : undefined, stream }
}

/** HopMessage{type: RESERVE}; resolves the relay's status. */
export async function reserve (node: Libp2p, relay: string): Promise<number | undefined> {
  const { status, stream } = await hop(node, relay, Uint8Array.from([2, 0x08, 0x00]))
  await stream.close().catch(() => {})
  return status
}

/** HopMessage{type: CONNECT, peer: {id: target}}; resolves the status and the stream (the relayed connection when OK). */
export async function connectVia (node: Libp2p, relay: string, target: PeerId): Promise<{ status: number | undefined, stream: Stream }> {
  const id = target.toMultihash().bytes
  const peer = Uint8Array.from([0x0a, id.length, ...id])
  const body = Uint8Array.from([0x08, 0x01, 0x12, peer.length, ...peer])
  return await hop(node, relay, Uint8Array.from([body.length, ...body]))
}

/**
 * Accept every relayed connection the relay announces to this node (STOP
 * CONNECT answered OK) and hold it open; resolves the streams as they come.
 */
export async function acceptRelayed (node: Libp2p): Promise<Stream[]> {
  const held: Stream[] = []
  await node.handle(STOP_PROTOCOL, async (stream) => {
    const req = await readMessage(stream)
    if (req == null) { stream.abort(new Error('no STOP request')); return }
    // StopMessage{type: STATUS, status: OK}
    stream.send(Uint8Array.from([4, 0x08, 0x01, 0x20, 0x64]))
    held.push(stream)
  }, { runOnLimitedConnection: true })
  return held
}
