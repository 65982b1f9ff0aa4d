/**
 * A node of the public libp2p network, for the NAT lab's "internet in a box"
 * (issue 20): stock js-libp2p modules with the public network's defaults and
 * no beam code at all. Run inside a lab namespace with Node 24 and the lab's
 * public-ranges hook (public-net.ts does both):
 *
 *   BEAM_LAB_PUBLIC_CIDRS=198.51.100.0/24 \
 *   node --import=./lab-public-cidrs-hook.ts stock-node.ts <ip> [<peer multiaddr>…]
 *
 * It listens on /ip4/<ip>/tcp/4001 and runs what kubo and helia nodes run for
 * the Amino DHT: TCP, Noise, yamux, identify, ping, AutoNAT, a Kad-DHT
 * *server* on /ipfs/kad/1.0.0 (with the private-address filter of helia's
 * amino DHT), and a circuit-relay-v2 server with the library's default limits
 * (every relayed connection limited to 128 KiB and 2 minutes). Then it dials
 * the given peers (the other stock nodes), so that they know each other.
 *
 * Output, one JSON line each on stdout:
 *   {"event":"ready","peerId","multiaddrs":[…]}           listening (before the dials)
 *   {"event":"joined","connected":[peer ids],"failed":[{addr,error}]}   after the dials
 *   {"event":"status","connections":[{peer,remote,limited}],"reservations":[peer ids],"routingTable":n}
 *                                                         for each `status` line on stdin
 * SIGTERM or SIGINT stops the node and exits 0.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { kadDHT, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const STOCK_NODE = fileURLToPath(import.meta.url)

/** The TCP port every stock node listens on (the public network's usual 4001). */
export const STOCK_PORT = 4001

/** The Amino DHT's protocol id. */
export const AMINO_PROTOCOL = '/ipfs/kad/1.0.0'

const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

async function main (ip: string, peers: string[]): Promise<void> {
  const node = await createLibp2p({
    // A public server announces its public address, which makes it verified:
    // then AutoNAT asks no one to verify it. Without that the stock nodes ask
    // each other, and js-libp2p's AutoNAT v1 server (@libp2p/autonat 3.0.28)
    // dials back over the connection it already has to the asker, then closes
    // it: every connection between two stock nodes died within a second.
    addresses: { listen: [`/ip4/${ip}/tcp/${STOCK_PORT}`], announce: [`/ip4/${ip}/tcp/${STOCK_PORT}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      autonat: autoNAT(),
      // what helia's amino DHT runs: a server (public node), private addresses
      // dropped from answers (the lab's public range counts as public via the hook)
      dht: kadDHT({ protocol: AMINO_PROTOCOL, clientMode: false, peerInfoMapper: removePrivateAddressesMapper }),
      // the library's defaults: limited relayed connections (128 KiB, 2 min)
      relay: circuitRelayServer()
    }
  })
  print({ event: 'ready', peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(m => m.toString()) })

  const connected: string[] = []
  const failed: Array<{ addr: string, error: string }> = []
  await Promise.all(peers.map(async addr => {
    try {
      const conn = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
      connected.push(conn.remotePeer.toString())
    } catch (err) {
      failed.push({ addr, error: (err as Error).message })
    }
  }))
  print({ event: 'joined', connected, failed })

  const dht = node.services.dht as SingleKadDHT
  const relay = node.services.relay as CircuitRelayService
  createInterface({ input: process.stdin }).on('line', line => {
    if (line.trim() !== 'status') return
    print({
      event: 'status',
      connections: node.getConnections().map(c => ({ peer: c.remotePeer.toString(), remote: c.remoteAddr.toString(), limited: c.limits != null })),
      reservations: [...relay.reservations.keys()].map(p => p.toString()),
      routingTable: dht.routingTable.size
    })
  })

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // bounded: a stuck stop still ends the process
    setTimeout(() => process.exit(0), 2000).unref()
    void Promise.resolve(node.stop()).finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (process.argv[1] === STOCK_NODE) {
  const [ip, ...peers] = process.argv.slice(2)
  if (ip == null || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    process.stderr.write('usage: stock-node.ts <ipv4> [<peer multiaddr>…]\n')
    process.exit(2)
  }
  await main(ip, peers)
}
