import { createLibp2p } from 'libp2p'
import { BeamNode } from './node.ts'
import { ephemeralIdentity } from './identity.ts'
import { ListenPortBook, isAnyPort, rememberedListen } from './listen-ports.ts'
import type { ListenPlan, ListenPortsMemory } from './listen-ports.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidOptionError } from '../errors.ts'
import { resolveRelayLimits } from '../../relay/index.ts'
import { BackendUnavailableError, carriedBy, directBackend } from '../../backends/index.ts'
import { libp2pOptions } from '../libp2p/libp2p-options.ts'
import { libp2pComponentLogger, silentLogger } from '../logger.ts'
import { RacingPeers } from '../connect/dialer.ts'
import { DEFAULT_DHT_PROTOCOL } from '../constants.ts'
import { PunchedPorts } from '../punch/index.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Backend } from '../../backends/index.ts'
import type { Logger } from '../logger.ts'
import type { BeamInit } from './init.ts'

/**
 * Building a beam node from its {@link BeamInit}: the init is checked
 * (backends, reservations), shaped for an anonymous-only node (no `direct`
 * backend), turned into libp2p's options, and the backends are started
 * around it; a backend's failed listener becomes one clear error.
 */

/**
 * Budget of one address dial on a node with a high-latency backend (Tor,
 * I2P), in ms: a fresh onion or I2P destination takes seconds to publish, a
 * first I2P dial builds its own tunnels, and the dialler retries meanwhile; the connect's
 * own timeout (dialTimeout) is what bounds it in practice.
 */
const ANONYMOUS_ADDRESS_DIAL_TIMEOUT = 120_000

/** Most relay reservations a node may hold. */
const MAX_RESERVATIONS = 8

/** Create a beam node and start it (unless `init.start` is false: then call `node.start()`). */
export async function createBeam (init: BeamInit = {}): Promise<BeamNode> {
  const log = init.logger ?? silentLogger()
  const backends = init.backends ?? [directBackend]
  if (backends.length === 0) throw new InvalidOptionError('backends: give at least one (e.g. direct or tor)')
  const names = new Set<string>()
  for (const b of backends) {
    if (names.has(b.name)) throw new InvalidOptionError(`backend '${b.name}' is listed twice`)
    names.add(b.name)
    if (b.name !== 'direct' && b.transport == null) throw new InvalidOptionError(`backend '${b.name}' is not implemented (beam backends)`)
  }
  if (!names.has('direct')) init = anonymousOnly(init, backends)
  for (const b of backends) await b.start?.({ log })
  try {
    const privateKey = init.privateKey ?? await ephemeralIdentity()
    init = { ...init, privateKey }
    const memory = await listenPortsMemory(init, privateKey)
    const build = async (listen: string[] | undefined): Promise<BeamNode> => {
      const node = await createNode(listen != null ? { ...init, listen } : init, log, backends, memory)
      // a failed start: stop libp2p here; the backends are stopped below, once
      if (init.start !== false) await node.start().catch(async (err: unknown) => { await Promise.resolve(node.libp2p.stop()).catch(() => {}); throw err })
      return node
    }
    if (memory == null) return await build(undefined)
    try {
      return await build(memory.listen)
    } catch (err) {
      // a remembered port taken between the test bind and the listener's: every port afresh
      if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError' || memory.reused.size === 0) throw err
      for (const [was, template] of memory.reused) memory.moved.push({ template, was, reason: 'taken at start' })
      memory.reused.clear()
      return await build(undefined)
    }
  } catch (err) {
    for (const b of backends) await b.stop?.().catch(() => {})
    throw backendListenError(err, backends) ?? err
  }
}

/**
 * libp2p reports a failed listener as one UnsupportedListenAddressesError
 * whose message lists each address with its error (and a stack trace). When
 * a backend's own listen address failed (no Tor control port, auth refused),
 * say that in one line as a BackendUnavailableError.
 */
export function backendListenError (err: unknown, backends: Backend[]): Error | undefined {
  if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError') return undefined
  const own = new Set(backends.flatMap(b => b.listenAddrs?.() ?? []))
  for (const m of err.message.matchAll(/^\s*(\/\S+): (?:\w+: )?([^\n]+)$/gm)) {
    if (m[1] != null && own.has(m[1])) return new BackendUnavailableError(`cannot listen on ${m[1]}: ${m[2] ?? ''}`)
  }
  return undefined
}

/** The address filter of an anonymous-only backend list (no `direct`); undefined otherwise. */
export function anonymousOnlyBackends (backends: Backend[] | undefined): ((ma: Multiaddr) => boolean) | undefined {
  if (backends == null || backends.some(b => b.name === 'direct')) return undefined
  return carriedBy(backends)
}

/**
 * Whether a node runs the DHT as a server: relays do, and nodes whose init
 * says `dht: { server: true }`; every other node (shares, connectors, apps)
 * is a client, whatever its addresses.
 */
export function isDhtServer (init: BeamInit): boolean {
  return init.dht !== false && (init.relayServer != null || init.dht?.server === true)
}

/**
 * The init of an anonymous-only node: beam's own transports, bootstrap
 * nodes, the DHT, relays and ICE servers all off; only backend listen
 * addresses allowed. Throws InvalidOptionError on a clearnet listen address.
 */
export function anonymousOnly (init: BeamInit, backends: Backend[]): BeamInit {
  const allowed = backends.flatMap(b => b.listenAddrs?.() ?? [])
  for (const l of [...(init.listen ?? []), ...(init.announce ?? [])]) {
    if (!allowed.includes(l)) throw new InvalidOptionError(`${backends.map(b => b.name).join('+')}-only mode opens no clearnet listener: cannot listen on or announce '${l}'`)
  }
  if ((init.reservations ?? 0) > 0) throw new InvalidOptionError(`${backends.map(b => b.name).join('+')}-only mode uses no relay: reservations must be 0`)
  if (init.relayServer != null) throw new InvalidOptionError('a relay server needs the direct backend')
  return {
    ...init,
    bootstrap: [],
    iceServers: [],
    dht: false,
    announce: [],
    transports: { tcp: false, quic: false, websockets: false, webrtc: false, relay: false }
  }
}

/**
 * With `init.listenPorts`: the remembered ports of this identity, each
 * checked by a test bind (listen-ports.ts); the plan's `listen` replaces
 * `init.listen`. Undefined without a ports file or an any-port address.
 */
async function listenPortsMemory (init: BeamInit, privateKey: PrivateKey): Promise<(ListenPortsMemory & ListenPlan) | undefined> {
  const templates = init.listen ?? []
  if (init.listenPorts == null || !templates.some(isAnyPort)) return undefined
  const book = new ListenPortBook(init.listenPorts)
  const peerId = peerIdFromPrivateKey(privateKey).toString()
  const plan = await rememberedListen(templates, await book.get(peerId))
  return { ...plan, book, peerId, templates }
}

/** Build (not start) the libp2p node of `init` and the BeamNode around it. */
async function createNode (init: BeamInit, log: Logger, backends: Backend[], listenPorts?: ListenPortsMemory): Promise<BeamNode> {
  const directOn = backends.some(b => b.name === 'direct')
  const extra = backends.filter(b => b.name !== 'direct')
  const backendListen = init.listenOnBackends === true ? extra.flatMap(b => b.listenAddrs?.() ?? []) : []
  const privateKey = init.privateKey ?? await ephemeralIdentity()
  const reservations = init.reservations ?? 0
  if (!Number.isInteger(reservations) || reservations < 0 || reservations > MAX_RESERVATIONS) throw new InvalidOptionError(`reservations must be 0-${MAX_RESERVATIONS}`)
  const listen = [...new Set([...(init.listen ?? []), ...backendListen])]
  // no '/p2p-circuit' listen address: libp2p's own relay search would reserve
  // on any relay it meets (the public network's are limited); the node's
  // relay finder chooses and takes the reservations (discovery/relay-finder.ts)
  if (reservations > 0 && init.transports?.webrtc !== false) listen.push('/webrtc')
  const racing = new RacingPeers()
  const punchedPorts = new PunchedPorts()
  const libp2p = await createLibp2p({ ...await libp2pOptions({
    privateKey,
    racingPeer: peer => racing.has(peer),
    listen,
    ...(init.relayServer != null ? { relayServer: resolveRelayLimits(init.relayServer) } : {}),
    ...(init.relayAllow != null ? { relayAllow: init.relayAllow } : {}),
    ...(init.dht !== false ? { dhtProtocol: init.dht?.protocol ?? DEFAULT_DHT_PROTOCOL, dhtServer: isDhtServer(init) } : {}),
    announce: init.announce ?? [],
    iceServers: init.iceServers ?? [],
    ...(init.webrtcBindAddress != null ? { webrtcBindAddress: init.webrtcBindAddress } : {}),
    punchedPorts,
    transports: {
      tcp: init.transports?.tcp ?? true,
      quic: init.transports?.quic ?? true,
      websockets: init.transports?.websockets ?? true,
      webrtc: init.transports?.webrtc ?? true,
      relay: init.transports?.relay ?? true
    },
    backendTransports: extra.map(b => b.transport?.({ log })).filter((t): t is NonNullable<typeof t> => t != null),
    ...(directOn ? {} : { carries: carriedBy(extra) }),
    // a first dial over a high-latency network includes making its session (I2P: ~20 s of tunnel building)
    ...(!directOn || extra.some(b => b.latency === 'high') ? { addressDialTimeout: ANONYMOUS_ADDRESS_DIAL_TIMEOUT } : {}),
    ...(extra.some(b => b.latency === 'high') ? { highLatency: true } : {}),
    logger: libp2pComponentLogger(log)
  }), start: false })
  return new BeamNode({
    libp2p,
    init,
    log,
    privateKey,
    racing,
    punchedPorts,
    backends,
    carries: anonymousOnlyBackends(init.backends),
    dhtServer: isDhtServer(init),
    ...(listenPorts != null ? { listenPorts } : {})
  })
}
