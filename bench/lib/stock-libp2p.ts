/**
 * A tunnel built from stock libp2p, as the "stock libp2p" baseline:
 * TCP + Noise + yamux with their default settings (only loopback dialling
 * allowed and the stream limits raised for 1,000 connections), joined to
 * sockets with beam's own byte pipe, so that the difference to beam is the
 * libp2p configuration and beam's protocol, not the pipe.
 *
 *   stock-libp2p.ts share <servicePort>          prints {"event":"ready","addr":…}
 *   stock-libp2p.ts connect <addr> <localPort>   prints {"event":"listening","port":…}
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { connectTcp, listenTcp, pipeSocketStream } from '../../src/tunnel/index.ts'

const PROTOCOL = '/bench/stock-tunnel/1.0.0'
const STREAMS = 4096

const [mode, a, b] = process.argv.slice(2)
const node = await createLibp2p({
  addresses: { listen: mode === 'share' ? ['/ip4/127.0.0.1/tcp/0'] : [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: { denyDialMultiaddr: () => false }
})
const say = (event: string, fields: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ event, ...fields }) + '\n') }

if (mode === 'share') {
  const port = Number(a)
  await node.handle(PROTOCOL, (stream) => {
    connectTcp('127.0.0.1', port, { timeout: 5000 }).then(async socket => { await pipeSocketStream(socket, stream) }, (err: Error) => { stream.abort(err) })
  }, { maxInboundStreams: STREAMS, maxOutboundStreams: STREAMS })
  say('ready', { addr: node.getMultiaddrs()[0]?.toString() ?? '' })
} else if (mode === 'connect') {
  const conn = await node.dial(multiaddr(a ?? ''), { signal: AbortSignal.timeout(20_000) })
  const listener = await listenTcp('127.0.0.1', Number(b), (socket) => {
    conn.newStream(PROTOCOL, { maxOutboundStreams: STREAMS }).then(async stream => { await pipeSocketStream(socket, stream) }, () => { socket.destroy() })
  })
  say('listening', { port: listener.port })
} else {
  throw new Error(`unknown mode ${String(mode)}`)
}
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => { process.exit(0) })
