/**
 * libp2p nodes for the I2P tests: the I2P transport with Noise and yamux as
 * src/peer/libp2p-options.ts configures them, plus bulk transfer helpers that
 * hash what they send and receive.
 */
import { createHash, randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Stream } from '@libp2p/interface'
import { i2p, TRANSIENT_DESTINATION } from '../../../src/backends/i2p/index.ts'
import type { I2pBackendOptions } from '../../../src/backends/i2p/index.ts'

export const XFER_PROTOCOL = '/beam-test/i2p-xfer/1.0.0'
export const ECHO_PROTOCOL = '/beam-test/i2p-echo/1.0.0'

export type I2pTestNode = Libp2p<{ ping: ReturnType<ReturnType<typeof ping>>, identify: ReturnType<ReturnType<typeof identify>> }>

export async function i2pNode (options: I2pBackendOptions & { listen: boolean }): Promise<I2pTestNode> {
  return await createLibp2p({
    addresses: { listen: options.listen ? [`/garlic64/${TRANSIENT_DESTINATION}`] : [] },
    transports: [i2p(options)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({
      enableKeepAlive: true,
      keepAliveInterval: 30_000,
      streamOptions: { maxStreamWindowSize: 16 * 1024 * 1024, inactivityTimeout: 0 }
    })],
    // an I2P dial includes making the connector's SAM session (tens of seconds)
    connectionManager: { dialTimeout: 240_000, addressDialTimeout: 240_000 },
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() }
  })
}

export function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Send `data` in 64 KiB pieces, respecting backpressure. */
export async function sendAll (stream: Stream, data: Uint8Array): Promise<void> {
  const piece = 64 * 1024
  for (let i = 0; i < data.length; i += piece) {
    if (!stream.send(data.subarray(i, i + piece))) await stream.onDrain()
  }
}

/** Read until the far side closes its write end; return the hash and length. */
export async function readAll (stream: Stream): Promise<{ hash: string, bytes: number }> {
  const h = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) {
    const buf = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    h.update(buf)
    bytes += buf.byteLength
  }
  return { hash: h.digest('hex'), bytes }
}

export function randomData (n: number): Uint8Array {
  return randomBytes(n)
}
