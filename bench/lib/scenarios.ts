/**
 * The scenarios of the benchmark: how to bring up each path in front of the
 * shared service, as real processes on 127.0.0.1, and how to take it down.
 * Every scenario hands back the local port to measure through, its
 * processes by role (for RSS and CPU), the cold start, and a warm dial.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beam, cpuSeconds, script } from './procs.ts'
import type { Proc } from './procs.ts'
import { firstByte } from './load.ts'

export const SCENARIOS = ['raw-tcp', 'forwarder', 'libp2p-stock', 'beam-tcp', 'beam-quic', 'beam-webrtc', 'beam-relay', 'holesail'] as const
export type ScenarioName = typeof SCENARIOS[number]

export const SCENARIO_LABELS: Record<ScenarioName, string> = {
  'raw-tcp': 'raw TCP',
  forwarder: 'two-hop Node forwarder',
  'libp2p-stock': 'stock libp2p (TCP+Noise+yamux)',
  'beam-tcp': 'beam direct TCP',
  'beam-quic': 'beam direct QUIC',
  'beam-webrtc': 'beam WebRTC',
  'beam-relay': 'beam via beam relay',
  holesail: 'holesail (hyperdht)'
}

/** Process roles: the listening side, the connecting side, a relay in between. */
export type Role = 'share' | 'connect' | 'relay'

export interface Running {
  /** Where clients connect: the tunnel's local end (or the service itself). */
  port: number
  procs: Partial<Record<Role, Proc>>
  /** From spawning the connecting side to the first byte through it, in ms. */
  coldMs: number | null
  /** The same with a share on its default listen addresses (beam-tcp only), in ms. */
  coldDefaultMs?: number | null
  /**
   * A cold start against a loopback-only share measured in the same slot as
   * {@link coldDefaultMs} (beam-tcp only), in ms: the figure to compare it with.
   */
  coldPairLoopbackMs?: number | null
  /** What the connector reported as its path (beam), for the record. */
  path?: Record<string, unknown>
  /** One warm dial → first byte, in ms (the connecting code already loaded); undefined when not measured. */
  warm?: () => Promise<number>
  teardown: () => Promise<void>
}

/** Shared infrastructure of a run: the service and, for holesail, a local hyperdht testnet. */
export interface Infra {
  servicePort: number
  /** host:port list of the local hyperdht testnet; empty when holesail is not run. */
  hyperdhtBootstrap: string
  /** The driver's own beam node for warm dials (created on first use). */
  warmNode: () => Promise<WarmNode>
}

/** The subset of a BeamNode the warm dial uses. */
export interface WarmNode {
  connect: (target: string, options: { signal: AbortSignal, upgrade: boolean }) => Promise<{ port: number, peerId: { toString: () => string }, close: () => Promise<void> }>
  hangUp: (peerId: string) => Promise<void>
  stop: () => Promise<void>
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => { resolve(port) })
    })
  })
}

const READY_TIMEOUT = 40_000
const COLD_TIMEOUT = 40_000

async function home (): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'beam-bench-'))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** Tear down in reverse order, never throwing. */
function teardownOf (procs: Proc[], homes: Array<{ cleanup: () => Promise<void> }>): () => Promise<void> {
  return async () => {
    for (const p of [...procs].reverse()) await p.stop().catch(() => {})
    for (const h of homes) await h.cleanup().catch(() => {})
  }
}

async function rawTcp (infra: Infra): Promise<Running> {
  return {
    port: infra.servicePort,
    procs: {},
    coldMs: null,
    warm: async () => await firstByte(infra.servicePort, 10_000),
    teardown: async () => {}
  }
}

async function forwarder (infra: Infra): Promise<Running> {
  const hop2 = script('forwarder hop 2', 'forwarder.ts', [String(infra.servicePort)])
  const procs = [hop2]
  try {
    const p2 = Number((await hop2.waitFor('ready', READY_TIMEOUT)).port)
    const p1 = await freePort()
    const hop1 = script('forwarder hop 1', 'forwarder.ts', [String(p2), String(p1)])
    procs.push(hop1)
    await firstByte(p1, COLD_TIMEOUT)
    const coldMs = performance.now() - hop1.spawnedAt
    return {
      port: p1,
      procs: { share: hop2, connect: hop1 },
      coldMs,
      warm: async () => await firstByte(p1, 10_000),
      teardown: teardownOf(procs, [])
    }
  } catch (err) {
    await teardownOf(procs, [])()
    throw err
  }
}

async function stockLibp2p (infra: Infra): Promise<Running> {
  const share = script('stock libp2p share', 'stock-libp2p.ts', ['share', String(infra.servicePort)])
  const procs = [share]
  try {
    const addr = String((await share.waitFor('ready', READY_TIMEOUT)).addr)
    const port = await freePort()
    const connect = script('stock libp2p connect', 'stock-libp2p.ts', ['connect', addr, String(port)])
    procs.push(connect)
    await firstByte(port, COLD_TIMEOUT)
    const coldMs = performance.now() - connect.spawnedAt
    // no warm figure: its connector dials once, at start
    return { port, procs: { share, connect }, coldMs, teardown: teardownOf(procs, []) }
  } catch (err) {
    await teardownOf(procs, [])()
    throw err
  }
}

interface BeamPathOptions {
  /** libp2p listen addresses of the share (none: relayed only). */
  listen: string[]
  relay?: boolean
  /**
   * Also measure a cold start against a share on its default listen
   * addresses and one against a loopback-only share, back to back
   * ({@link coldPairInSlot}).
   */
  coldDefault?: boolean
  /** Wait for this path transport before measuring. */
  transport: 'tcp' | 'quic' | 'webrtc' | 'relay'
}

async function beamPath (infra: Infra, opts: BeamPathOptions): Promise<Running> {
  // first, with nothing else of the scenario running
  const pair = opts.coldDefault === true ? await coldPairInSlot(infra) : undefined
  const procs: Proc[] = []
  const homes = [await home(), await home(), await home()]
  const [hs, hc, hr] = homes as [typeof homes[0], typeof homes[0], typeof homes[0]]
  try {
    const common = ['--no-default-bootstrap', '--ephemeral']
    let network: string[] = []
    let relayProc: Proc | undefined
    if (opts.relay === true) {
      const stunPort = opts.transport === 'webrtc' ? await freePort() : 0
      relayProc = beam('relay', ['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', String(stunPort), '--ephemeral'], hr.dir)
      procs.push(relayProc)
      const ready = await relayProc.waitFor('ready', READY_TIMEOUT)
      const addr = ((ready.multiaddrs as string[]) ?? [])[0] ?? ''
      network = ['--bootstrap', addr]
      // ICE: only the benchmark's own relay's STUN responder on loopback
      network.push(...(opts.transport === 'webrtc' ? ['--ice-server', `stun:127.0.0.1:${stunPort}`] : ['--no-webrtc']))
    }
    const listen = opts.listen.length > 0 ? opts.listen.flatMap(l => ['--listen', l]) : ['--no-listen']
    const share = beam('share', ['share', String(infra.servicePort), ...listen, ...common, ...network], hs.dir)
    procs.push(share)
    const ready = await share.waitFor('ready', READY_TIMEOUT)
    const cs = String(ready.connect)
    if (opts.relay === true && !cs.includes('p2p-circuit') && !(ready.multiaddrs as string[]).some(m => m.includes('p2p-circuit'))) {
      throw new Error('the share holds no relay reservation')
    }
    const port = await freePort()
    const connect = beam('connect', ['connect', cs, '--port', String(port), ...common, ...network], hc.dir)
    procs.push(connect)
    await firstByte(port, COLD_TIMEOUT)
    const coldMs = performance.now() - connect.spawnedAt
    // a WebRTC upgrade on a loaded machine can take tens of seconds
    const path = await connect.waitFor('path', 60_000, e => e.transport === opts.transport)
    const result: Running = {
      port,
      procs: { share, connect, ...(relayProc != null ? { relay: relayProc } : {}) },
      coldMs,
      ...(pair != null ? { coldDefaultMs: pair.default, coldPairLoopbackMs: pair.loopback } : {}),
      path: { transport: path.transport, direct: path.direct, remote: path.remote },
      teardown: teardownOf(procs, homes)
    }
    if (opts.transport !== 'webrtc') {
      result.warm = async () => {
        const node = await infra.warmNode()
        const start = performance.now()
        const tunnel = await node.connect(cs, { signal: AbortSignal.timeout(20_000), upgrade: false })
        try {
          await firstByte(tunnel.port, 10_000)
          return performance.now() - start
        } finally {
          await tunnel.close()
          await node.hangUp(tunnel.peerId.toString())
        }
      }
    }
    return result
  } catch (err) {
    await teardownOf(procs, homes)()
    throw err
  }
}

/** One cold start: wall time and the CPU both processes used until the first byte. */
export interface ColdStart {
  /** Spawn `beam connect` → first byte through it, in ms. */
  ms: number
  /** CPU time of `beam connect` until then, in ms (10 ms resolution). */
  connectCpuMs: number
  /** CPU time of the share over the same span, in ms (10 ms resolution). */
  shareCpuMs: number
}

/**
 * A cold start against a share listening on `listen`, or, with 'default', on
 * its default listen addresses as a user starts it (TCP and QUIC on every
 * interface, IPv4 and IPv6: DEFAULT_SHARE_LISTEN), whose connect string then
 * carries every interface address of this machine. Offline either way: no
 * bootstrap node, and ICE servers given explicitly (a loopback port nothing
 * answers on) so that neither side ever asks a public host. Both processes
 * are stopped before it returns.
 */
export async function coldStart (infra: Infra, listen: string[] | 'default'): Promise<ColdStart> {
  const homes = [await home(), await home()]
  const [hs, hc] = homes as [typeof homes[0], typeof homes[0]]
  const procs: Proc[] = []
  try {
    const offline = ['--no-default-bootstrap', '--ephemeral', '--ice-server', `stun:127.0.0.1:${await freePort()}`]
    const listenArgs = listen === 'default' ? [] : listen.flatMap(l => ['--listen', l])
    const share = beam('share', ['share', String(infra.servicePort), ...listenArgs, ...offline], hs.dir)
    procs.push(share)
    const cs = String((await share.waitFor('ready', READY_TIMEOUT)).connect)
    const port = await freePort()
    const share0 = cpuSeconds(share.pid) ?? 0
    const connect = beam('connect', ['connect', cs, '--port', String(port), ...offline], hc.dir)
    procs.push(connect)
    await firstByte(port, COLD_TIMEOUT)
    const ms = performance.now() - connect.spawnedAt
    return { ms, connectCpuMs: (cpuSeconds(connect.pid) ?? NaN) * 1000, shareCpuMs: ((cpuSeconds(share.pid) ?? NaN) - share0) * 1000 }
  } finally {
    await teardownOf(procs, homes)()
  }
}

/** How many default/loopback pairs {@link coldPairInSlot} has measured in this process (which goes first alternates). */
let pairsInSlot = 0

/**
 * A cold start against a share on its default listen addresses and one
 * against a loopback-only share, back to back, which goes first alternating
 * from one call to the next, in ms. The two are compared with each other,
 * not with the scenario's own cold start (its `coldMs`), which comes after
 * them under other conditions: the default figure used to be measured alone
 * in this slot, the first beam processes after the previous scenario's
 * teardown, and read 37 ms above the scenario's loopback figure in the full
 * run of 2026-12-06 (320 vs 283 ms, medians of 3), while alternating pairs
 * (`--only cold`) showed no gap (docs/performance.md, "The default path").
 */
export async function coldPairInSlot (infra: Infra): Promise<{ default: number, loopback: number }> {
  const order: Array<'default' | 'loopback'> = pairsInSlot++ % 2 === 0 ? ['default', 'loopback'] : ['loopback', 'default']
  const out = { default: NaN, loopback: NaN }
  for (const which of order) out[which] = (await coldPair(infra, which)).ms
  return out
}

/** A cold start against a loopback-only share (one TCP address, as beam-tcp) or a share on its default listen addresses. */
export async function coldPair (infra: Infra, which: 'loopback' | 'default'): Promise<ColdStart> {
  return await coldStart(infra, which === 'default' ? 'default' : ['/ip4/127.0.0.1/tcp/0'])
}

async function holesail (infra: Infra): Promise<Running> {
  if (infra.hyperdhtBootstrap === '') throw new Error('no hyperdht testnet')
  const env = { BENCH_HYPERDHT_BOOTSTRAP: infra.hyperdhtBootstrap }
  const server = script('holesail server', 'holesail.cjs', ['server', String(infra.servicePort)], env)
  const procs = [server]
  try {
    const key = String((await server.waitFor('ready', READY_TIMEOUT)).key)
    const port = await freePort()
    const client = script('holesail client', 'holesail.cjs', ['client', key, String(port)], env)
    procs.push(client)
    await firstByte(port, COLD_TIMEOUT)
    const coldMs = performance.now() - client.spawnedAt
    return {
      port,
      procs: { share: server, connect: client },
      coldMs,
      // holesail opens a new DHT connection for every local TCP connection: that is its dial
      warm: async () => await firstByte(port, 10_000),
      teardown: teardownOf(procs, [])
    }
  } catch (err) {
    await teardownOf(procs, [])()
    throw err
  }
}

/** Bring one scenario up; `coldDefault: false` skips beam-tcp's extra cold start against a default-listen share. */
export async function startScenario (name: ScenarioName, infra: Infra, options: { coldDefault?: boolean } = {}): Promise<Running> {
  switch (name) {
    case 'raw-tcp': return await rawTcp(infra)
    case 'forwarder': return await forwarder(infra)
    case 'libp2p-stock': return await stockLibp2p(infra)
    case 'beam-tcp': return await beamPath(infra, { listen: ['/ip4/127.0.0.1/tcp/0'], transport: 'tcp', coldDefault: options.coldDefault ?? true })
    case 'beam-quic': return await beamPath(infra, { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], transport: 'quic' })
    case 'beam-webrtc': return await beamPath(infra, { listen: [], relay: true, transport: 'webrtc' })
    case 'beam-relay': return await beamPath(infra, { listen: [], relay: true, transport: 'relay' })
    case 'holesail': return await holesail(infra)
  }
}
