/**
 * Several DHT server nodes in one process, for discovery tests: run with
 * `node test/helpers/dht-swarm.ts <count> [bootstrap multiaddr…]`. Each node
 * listens on 127.0.0.1 (TCP), runs the Kademlia DHT in server mode, and dials
 * the given bootstrap nodes plus the node started before it in this process.
 * Prints one JSON line per node {"event":"node","index","peerId","multiaddr"}
 * then {"event":"ready"}; SIGTERM stops every node and exits.
 *
 * Imported (not run), it exports {@link DhtSwarms}, which starts such
 * processes for a test and stops them again.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createBeam } from 'beam'
import type { BeamNode } from 'beam'
import { JsonLines } from '../lab/udp-reflector.ts'

export const DHT_SWARM = fileURLToPath(import.meta.url)

/** The swarm processes of one test file. */
export class DhtSwarms {
  private readonly children: ChildProcess[] = []

  /** Start a process of `count` nodes dialling `bootstrap`; resolves with the nodes' multiaddrs once all are up (30 s at most). */
  async start (count: number, bootstrap: string[] = []): Promise<string[]> {
    const child = spawn(process.execPath, [DHT_SWARM, String(count), ...bootstrap], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.push(child)
    const lines = new JsonLines(child)
    await lines.waitFor(l => l.event === 'ready', 30_000)
    return lines.lines.filter(l => l.event === 'node').map(l => String(l.multiaddr))
  }

  /**
   * A DHT of `processes` × `nodesEach` nodes: the first process, then the
   * others at once, each bootstrapping from node 1; resolves with every node's
   * multiaddr (node 1 first) after `settleMs` more for the routing tables to
   * fill (self lookups after connecting).
   */
  async startDht (processes: number, nodesEach: number, settleMs: number): Promise<string[]> {
    const first = await this.start(nodesEach)
    const rest = await Promise.all(Array.from({ length: processes - 1 }, async () => await this.start(nodesEach, [first[0] ?? ''])))
    await new Promise(resolve => setTimeout(resolve, settleMs))
    return [...first, ...rest.flat()]
  }

  /** SIGTERM every process started and wait for each to exit. */
  async stop (): Promise<void> {
    for (const s of this.children) s.kill('SIGTERM')
    await Promise.all(this.children.map(async s => await new Promise(resolve => { if (s.exitCode != null) resolve(null); else s.once('exit', resolve) })))
  }
}

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
