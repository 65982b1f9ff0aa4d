/**
 * Several DHT server nodes in one process, for discovery tests: run with
 * `node test/helpers/dht-swarm.ts <count> [bootstrap multiaddr…]`. Each node
 * listens on 127.0.0.1 (TCP), runs the Kademlia DHT in server mode, and dials
 * the given bootstrap nodes plus the node started before it in this process.
 * Prints one JSON line per node {"event":"node","index","peerId","multiaddr"}
 * then {"event":"ready"}; SIGTERM stops every node and exits.
 */
import { fileURLToPath } from 'node:url'
import { createBeam } from 'beam'
import type { BeamNode } from 'beam'

export const DHT_SWARM = fileURLToPath(import.meta.url)

const MAX_NODES = 16

if (process.argv[1] === DHT_SWARM) {
  const count = Number(process.argv[2])
  const bootstrap = process.argv.slice(3)
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) {
    process.stderr.write(`dht-swarm: count must be 1-${MAX_NODES}\n`)
    process.exit(2)
  }
  const { multiaddr } = await import('@multiformats/multiaddr')
  const nodes: BeamNode[] = []
  let previous: string | undefined
  for (let i = 0; i < count; i++) {
    const node = await createBeam({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [...bootstrap, ...(previous != null ? [previous] : [])].map(a => multiaddr(a)),
      dht: { server: true },
      transports: { webrtc: false, quic: false }
    })
    nodes.push(node)
    const ma = `${node.getMultiaddrs()[0]?.toString() ?? ''}/p2p/${node.peerId.toString()}`
    previous = ma
    process.stdout.write(`${JSON.stringify({ event: 'node', index: i, peerId: node.peerId.toString(), multiaddr: ma })}\n`)
  }
  process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`)
  const stop = (): void => {
    void Promise.allSettled(nodes.map(async n => { await n.stop() })).finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 3000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
