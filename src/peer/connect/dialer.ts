import { networkInterfaces } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { isLoopback, isPrivate } from '@libp2p/utils'
import type { Logger } from '../logger.ts'

/**
 * How a candidate address reaches the peer:
 * - `direct`: the peer's own address (TCP, QUIC, …);
 * - `relayed`: through a circuit relay (`…/p2p-circuit/p2p/<peer>`);
 * - `webrtc`: a WebRTC hole punch signalled through a relay
 *   (`…/p2p-circuit/webrtc/p2p/<peer>`): tried as an upgrade once a relayed
 *   connection exists, never in the first race (it takes seconds to fail
 *   behind a symmetric NAT, and a relayed connection answers in one RTT).
 */
export type AddressClass = 'direct' | 'relayed' | 'webrtc'

export function classifyAddress (ma: Multiaddr): AddressClass {
  const names = ma.getComponents().map(c => c.name)
  const circuit = names.includes('p2p-circuit')
  if (circuit && names.includes('webrtc')) return 'webrtc'
  if (circuit) return 'relayed'
  if (names.includes('webrtc')) return 'webrtc'
  return 'direct'
}

export interface RaceOptions {
  /** The peer's addresses to race (direct and relayed ones; others are left out). */
  addrs: Multiaddr[]
  /** Logger for each dial. */
  log: Logger
  /** Head start of direct addresses over relayed ones, in ms. @default 250 */
  relayDelay?: number
  /**
   * Head start of the first wave of direct addresses over the second, in ms
   * (see {@link dialWaves}). @default SECOND_WAVE_DELAY (250)
   */
  secondWaveDelay?: number
  /**
   * How much longer the second wave waits, once the head start is over, for
   * a first-wave address that has answered (its TCP connection is up) and is
   * still in its handshake, in ms (see {@link HANDSHAKE_GRACE}).
   * @default HANDSHAKE_GRACE (1000)
   */
  handshakeGrace?: number
  /** The IP addresses of this machine. @default those of its interfaces now ({@link localIps}) */
  localIps?: ReadonlySet<string>
  /** Where the race registers the peer while it runs (see {@link RacingPeers}). @default unset */
  racing?: RacingPeers
  signal: AbortSignal
}

/**
 * The peers a dial race is running for. libp2p joins every dial that names a
 * peer into one job that tries the peer's known addresses one at a time
 * (each up to its address timeout): when kad-dht learns of the peer from a
 * relay's answer and queries it, the race's relayed dial joins that job and
 * waits behind every dead direct address (30 s in the NAT lab, where the
 * connect then failed). The node's connection gater refuses direct
 * addresses that name a racing peer (isDirectDialOf in libp2p-options.ts);
 * the race itself dials direct addresses without the peer id.
 */
export class RacingPeers {
  private readonly counts = new Map<string, number>()

  /** Whether a race for this peer is running. */
  has (peer: PeerId | string): boolean { return this.counts.has(peer.toString()) }

  /** A race for `peer` starts. */
  add (peer: PeerId): void { this.counts.set(peer.toString(), (this.counts.get(peer.toString()) ?? 0) + 1) }

  /** A race for `peer` is over. */
  delete (peer: PeerId): void {
    const id = peer.toString()
    const n = (this.counts.get(id) ?? 0) - 1
    if (n > 0) this.counts.set(id, n)
    else this.counts.delete(id)
  }
}

/** What a dial race tried, for progress output and `beam doctor`. */
/** One address dialled while connecting to a peer. */
export interface DialAttempt {
  /** The multiaddr tried. */
  address: string
  /** What kind of address it is (loopback, private, public, relayed, …). */
  kind: AddressClass
  /** Whether it connected. */
  ok: boolean
  /** How long it took, in ms. */
  ms: number
  /** Why it failed. */
  error?: string
}

export class DialRaceError extends Error {
  readonly attempts: DialAttempt[]
  constructor (attempts: DialAttempt[]) {
    super(attempts.length === 0 ? 'no address to dial' : summarize(attempts))
    this.name = 'DialRaceError'
    this.attempts = attempts
  }
}

function summarize (attempts: DialAttempt[]): string {
  const seen = new Set<string>()
  for (const a of attempts) if (a.error != null) seen.add(a.error)
  return [...seen].slice(0, 3).join('; ')
}

/** The address with `/p2p/<peer>` at the end (dial by address needs it). */
export function withPeer (ma: Multiaddr, peer: PeerId): Multiaddr {
  const last = ma.getComponents().at(-1)
  if (last?.name === 'p2p' && last.value === peer.toString()) return ma
  return ma.encapsulate(`/p2p/${peer.toString()}`)
}

/** The address without a trailing `/p2p/<peer>`. */
export function withoutPeer (ma: Multiaddr): Multiaddr {
  const comps = ma.getComponents()
  return comps.at(-1)?.name === 'p2p' ? multiaddr(ma.toString().slice(0, ma.toString().lastIndexOf('/p2p/'))) : ma
}

/** Order of direct candidates: public, then private, then loopback. */
function directRank (ma: Multiaddr): number {
  if (isLoopback(ma)) return 2
  return isPrivate(ma) ? 1 : 0
}

/**
 * How long the first wave of a peer's direct addresses ({@link dialWaves})
 * dials alone before the others join, in ms: RFC 8305's "Connection Attempt
 * Delay". A share started with its defaults listens on TCP and QUIC on every
 * interface, IPv4 and IPv6, and its connect string carries all of them
 * (eight on a machine with one network interface); dialled at once, a
 * connector made eight connections (Noise or TLS handshakes, identify, and
 * QUIC's native module loaded) where one TCP connection answers within a
 * round trip and a handshake. It is the whole wait only when the first wave
 * hangs: when it fails, the others are dialled at once.
 */
export const SECOND_WAVE_DELAY = 250

/**
 * How long the second wave of direct addresses waits, after the head start,
 * for a first-wave address that answered at the transport level (its socket
 * connected: libp2p's upgrader started the encryption handshake) to finish
 * its handshake, in ms. On a loaded machine a loopback dial spends hundreds
 * of ms in CPU-bound steps (Noise, yamux, identify) after the socket is up:
 * with the fixed head start alone, a connector to a share on its default
 * listen addresses then dialled all eight addresses (QUIC built, seven more
 * handshakes on the same two cores) while its first connection was merely
 * slow. An address that answers but never completes (a stuck peer, another
 * service on the port) holds the rest back by at most this much.
 */
export const HANDSHAKE_GRACE = 1000

/** The IP addresses of this machine's network interfaces (loopback included), as multiaddrs print them. */
export function localIps (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address)
  }
  return out
}

/** The IP address of a multiaddr's first component (`/ip4/…`, `/ip6/…`), if it has one. */
function ipOf (ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  return first?.name === 'ip4' || first?.name === 'ip6' ? first.value : undefined
}

/** Among a same-host peer's addresses: loopback first, then TCP before QUIC and others, then IPv4. */
function sameHostRank (ma: Multiaddr): number {
  const names = ma.getComponents().map(c => c.name)
  return (isLoopback(ma) ? 0 : 4) + (names.includes('tcp') ? 0 : 2) + (names[0] === 'ip4' ? 0 : 1)
}

/** Whether an address is plain TCP (not WebSockets or another protocol over it). */
function isPlainTcp (ma: Multiaddr): boolean {
  const names = ma.getComponents().map(c => c.name).filter(n => n !== 'p2p')
  return names.length === 2 && names[1] === 'tcp'
}

/**
 * Which direct addresses a race dials first; the rest follow after
 * {@link SECOND_WAVE_DELAY} or at once when every first dial failed
 * (RFC 8305's "Connection Attempt Delay"). A share started with its defaults
 * offers TCP and QUIC on every interface, IPv4 and IPv6, loopback included.
 *
 * - A peer on this machine (one of its direct addresses, other than
 *   loopback, is an address of a local interface: every peer lists loopback
 *   addresses, so those say nothing): its best address on this machine
 *   alone (loopback TCP when it has one: the fastest path, and TCP carries
 *   bulk data faster than QUIC here).
 * - A peer elsewhere: its TCP addresses other than loopback first, all at
 *   once; its QUIC (and other) addresses and its loopback addresses (which
 *   lead to this machine, not to the peer) after the head start. A QUIC dial
 *   loads and starts QUIC's native client (a TLS certificate, two UDP
 *   sockets) and makes a second handshake that competes with the first on
 *   a small machine; when TCP answers, neither happens. When the peer has no
 *   such TCP address, its non-loopback addresses first.
 * - A peer with loopback addresses only (tests, the benchmark): all at once.
 *
 * An address that merely matches a local one (another host with the same
 * private address on its own LAN), or a TCP path that hangs where QUIC would
 * answer, costs at most the head start.
 */
export function dialWaves (direct: Multiaddr[], local: ReadonlySet<string>): { first: Multiaddr[], rest: Multiaddr[] } {
  const sameHost = direct.some(ma => { const ip = ipOf(ma); return ip != null && local.has(ip) && !isLoopback(ma) })
  if (sameHost) {
    const candidates = direct.filter(ma => { const ip = ipOf(ma); return ip != null && local.has(ip) })
    const best = candidates.sort((a, b) => sameHostRank(a) - sameHostRank(b))[0]
    if (best == null) return { first: direct, rest: [] }
    return { first: [best], rest: direct.filter(ma => ma !== best) }
  }
  const away = direct.filter(ma => !isLoopback(ma))
  if (away.length === 0) return { first: direct, rest: [] }
  const tcp = away.filter(isPlainTcp)
  const first = tcp.length > 0 ? tcp : away
  return { first, rest: direct.filter(ma => !first.includes(ma)) }
}

/**
 * Dial a peer over its known addresses, happy-eyeballs style: the direct
 * addresses in two waves ({@link dialWaves}: a peer on this machine, its
 * best local address first; a peer elsewhere, its TCP addresses first),
 * relayed addresses after a short head start (at once when there is no
 * direct candidate). The first connection wins; dials still
 * running go on in the background (a direct connection that arrives later is
 * picked up by the path logic). libp2p's own peer dial tries addresses one at
 * a time with a 6 s budget each, so one blackholed address would delay the
 * first byte by seconds.
 */
export async function raceDial (libp2p: Libp2p, peer: PeerId, options: RaceOptions): Promise<{ connection: Connection, attempts: DialAttempt[] }> {
  const { addrs, log } = options
  const direct = addrs.filter(a => classifyAddress(a) === 'direct').sort((a, b) => directRank(a) - directRank(b))
  const waves = dialWaves(direct, options.localIps ?? localIps())
  const relayed = addrs.filter(a => classifyAddress(a) === 'relayed')
  const attempts: DialAttempt[] = []
  if (direct.length === 0 && relayed.length === 0) throw new DialRaceError(attempts)
  const relayDelay = direct.length === 0 ? 0 : (options.relayDelay ?? 250)
  const secondWaveDelay = options.secondWaveDelay ?? SECOND_WAVE_DELAY
  const won = new AbortController()
  options.racing?.add(peer)
  const handshakeGrace = options.handshakeGrace ?? HANDSHAKE_GRACE
  // whether a first-wave address answered (its socket is up, the handshake under way)
  let firstAnswered = false
  /**
   * One dial: after `delay` ms and `after` (cut short when another address
   * wins); `first`: a first-wave direct address, whose transport-level
   * answer the second wave watches.
   */
  const one = async (ma: Multiaddr, kind: AddressClass, when: { delay?: number, after?: Promise<void>, first?: boolean } = {}): Promise<Connection> => {
    const { delay = 0, after, first = false } = when
    if (delay > 0 || after != null) {
      // cut short when another address wins or the dial is aborted
      if (delay > 0) await sleep(delay, undefined, { signal: AbortSignal.any([won.signal, options.signal]) }).catch(() => {})
      await after
      if (won.signal.aborted) throw new Error('another address answered first')
      options.signal.throwIfAborted()
    }
    const start = performance.now()
    // direct addresses are dialled without /p2p/<peer>: libp2p joins every
    // dial that names the same peer into one job that tries addresses one by
    // one. Noise still authenticates the remote key; it is checked below.
    const address = kind === 'direct' ? withoutPeer(ma) : withPeer(ma, peer)
    try {
      log.debug({ address: address.toString(), kind }, 'dialing')
      const connection = await libp2p.dial(address, {
        signal: options.signal,
        onProgress: first ? (e) => { if (e.type === 'upgrader:encrypt-outbound-connection') firstAnswered = true } : undefined
      })
      if (!connection.remotePeer.equals(peer)) {
        connection.abort(new Error('wrong peer'))
        throw new Error(`${connection.remotePeer.toString()} answered, not the peer`)
      }
      attempts.push({ address: address.toString(), kind, ok: true, ms: Math.round(performance.now() - start) })
      return connection
    } catch (err) {
      const error = (err as Error).message
      attempts.push({ address: address.toString(), kind, ok: false, ms: Math.round(performance.now() - start), error })
      log.debug({ address: address.toString(), kind, err: error }, 'dial failed')
      throw err
    }
  }
  /**
   * Relayed candidates go through relays that answer: relays this node is
   * not connected to are tried first (in parallel, each bounded), and
   * circuits through those that fail are dropped. libp2p dials all of a
   * peer's addresses in one job, one after another with 6 s each, and the
   * circuit transport reaches a relay by any of its addresses, so one dead
   * relay in a stale connect string (QUIC to a dead host only times out)
   * would hold up the whole dial.
   */
  const liveRelayed = async (): Promise<Multiaddr[]> => {
    const relays = new Map<string, Multiaddr[]>()
    for (const ma of relayed) {
      const id = relayPeerOf(ma)
      if (id == null) continue
      relays.set(id, [...(relays.get(id) ?? []), ma])
    }
    const alive = await Promise.all([...relays.entries()].map(async ([id, circuits]) => {
      if (libp2p.getConnections().some(c => c.remotePeer.toString() === id && c.status === 'open')) return circuits
      const start = performance.now()
      try {
        // the relay's own address (TCP first: a dead relay refuses TCP at once)
        const direct = circuits.map(c => c.decapsulate('/p2p-circuit')).sort((a, b) => rankOfRelayAddr(a) - rankOfRelayAddr(b))
        await libp2p.dial(direct[0] ?? circuits[0] ?? multiaddr(`/p2p/${id}`), { signal: AbortSignal.any([options.signal, AbortSignal.timeout(RELAY_PROBE_TIMEOUT)]) })
        return circuits
      } catch (err) {
        attempts.push({ address: direct0(circuits), kind: 'relayed', ok: false, ms: Math.round(performance.now() - start), error: `relay unreachable: ${(err as Error).message}` })
        log.debug({ relay: id, err: (err as Error).message }, 'relay unreachable; not dialling through it')
        return []
      }
    }))
    const live = alive.flat()
    // no relay answered in time (a loaded machine, a slow network): try them all anyway
    return live.length > 0 ? live : relayed
  }
  const relayedDials = async (): Promise<Connection> => {
    const live = await liveRelayed()
    if (live.length === 0) throw new Error('no relay of the peer answered')
    return await Promise.any(live.map(async ma => await one(ma, 'relayed', { delay: relayDelay })))
  }
  try {
    const firstDials = waves.first.map(async ma => await one(ma, 'direct', { first: true }))
    if (waves.rest.length > 0) log.debug({ first: waves.first.map(String), later: waves.rest.length, headStartMs: secondWaveDelay }, 'dialling the best direct addresses first, the others after the head start')
    // the rest: after the head start (longer, up to the grace, while a first
    // address that answered finishes its handshake), or as soon as every
    // first dial failed
    const waitGate = AbortSignal.any([won.signal, options.signal])
    const firstSettled = Promise.allSettled(firstDials).then(() => {})
    const restGate = waves.rest.length === 0
      ? undefined
      : Promise.race([
        (async () => {
          await sleep(secondWaveDelay, undefined, { signal: waitGate })
          if (firstAnswered) {
            log.debug({ graceMs: handshakeGrace }, 'a first address answered: the others wait for its handshake')
            await Promise.race([firstSettled, sleep(handshakeGrace, undefined, { signal: waitGate })])
          }
        })().catch(() => {}),
        firstSettled
      ])
    const connection = await Promise.any([
      ...firstDials,
      ...waves.rest.map(async ma => await one(ma, 'direct', { after: restGate })),
      ...(relayed.length > 0 ? [relayedDials()] : [])
    ])
    won.abort()
    return { connection, attempts }
  } catch (err) {
    options.signal.throwIfAborted()
    throw new DialRaceError(attempts.length > 0 ? attempts : [{ address: '', kind: 'direct', ok: false, ms: 0, error: (err as Error).message }])
  } finally {
    // ends the head-start and grace timers when every dial failed, too
    won.abort()
    options.racing?.delete(peer)
  }
}

/** How long to wait for an unconnected relay before dropping its circuits, in ms. */
const RELAY_PROBE_TIMEOUT = 5000

/** The relay's peer id in a circuit address. */
export function relayPeerOf (ma: Multiaddr): string | undefined {
  const comps = ma.getComponents()
  const at = comps.findIndex(c => c.name === 'p2p-circuit')
  if (at <= 0) return undefined
  return comps.slice(0, at).findLast(c => c.name === 'p2p')?.value
}

function rankOfRelayAddr (ma: Multiaddr): number {
  const names = ma.getComponents().map(c => c.name)
  if (names.includes('quic-v1') || names.includes('quic')) return 2
  if (names.includes('ws') || names.includes('wss')) return 1
  return 0
}

function direct0 (circuits: Multiaddr[]): string {
  return circuits[0]?.decapsulate('/p2p-circuit').toString() ?? ''
}

/**
 * The WebRTC hole-punch address through the relay a relayed connection uses:
 * `<relay>/p2p-circuit/p2p/<peer>` → `<relay>/p2p-circuit/webrtc/p2p/<peer>`.
 */
export function webrtcViaRelay (relayed: Multiaddr, peer: PeerId): Multiaddr | undefined {
  const text = relayed.toString()
  const at = text.indexOf('/p2p-circuit')
  if (at < 0) return undefined
  return multiaddr(`${text.slice(0, at)}/p2p-circuit/webrtc/p2p/${peer.toString()}`)
}
