import { InvalidTargetError, PeerNotFoundError } from '../errors.ts'
import { DEFAULT_LOOKUP_TIMEOUT } from '../constants.ts'
import { looksLikeConnectString } from './connect-string.ts'
import { NamePrefixError, checkNamePrefix, lookupName, lookupPeer, parseNameTarget } from './discovery.ts'
import { knownAddresses } from './known-addresses.ts'
import { parseTarget } from './target.ts'
import { LOOKUP_REUSE_TIME, RecentLookups } from './recent-lookups.ts'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { AddressBook } from './address-book.ts'
import type { LookupResult } from './discovery.ts'
import type { DhtPresence } from './presence.ts'
import type { Target } from './target.ts'
import type { Logger } from '../logger.ts'

/**
 * From what a user typed to a peer with known addresses: connect strings,
 * peer ids and `name.peer-id-prefix` names are parsed or looked up in the
 * DHT, and a target's addresses are completed from the address book, the
 * peer store or a DHT lookup (and, on an anonymous-only node, cut to those
 * its backends carry).
 */

/** A DHT lookup of a peer started, found it, or failed (the node's `lookup` event). */
export interface LookupProgress {
  /** The peer looked up. */
  peerId: string
  /** Where the lookup stands. */
  state: 'started' | 'found' | 'failed'
  /** When found: how many addresses. */
  addresses?: number
  /** When found: how long it took, in ms. */
  ms?: number
  /** When failed: why. */
  error?: string
}

/** Peers a dial race runs for (the node's RacingPeers): a lookup that may dial the peer marks it meanwhile. */
export interface RacingMarks {
  /** A race (or a lookup) for `peer` starts. */
  add: (peer: PeerId) => void
  /** It is over. */
  delete: (peer: PeerId) => void
}

/** Components and options of a {@link PeerResolver}. */
export interface PeerResolverInit {
  /** The node's libp2p (DHT routing, connections, peer store). */
  libp2p: Pick<Libp2p, 'peerId' | 'contentRouting' | 'peerRouting' | 'getConnections' | 'peerStore'>
  /** The node's DHT presence: whether the DHT runs, and the wait for a first DHT peer. */
  dht: Pick<DhtPresence, 'enabled' | 'waitForDhtPeer' | 'peerCount'>
  /** Where to log. */
  log: Logger
  /** Remembered addresses of peers. @default none */
  addressBook?: AddressBook | undefined
  /** How many bootstrap nodes the node was given (none: nothing to look a peer up with). */
  bootstrapCount: number
  /** Peers a dial race runs for. */
  racing: RacingMarks
  /** Anonymous-only node: the addresses its backends carry. @default every address */
  carries?: ((ma: Multiaddr) => boolean) | undefined
  /** The names of the node's backends, for messages. */
  backendNames: () => string[]
  /** How long a DHT lookup may take, in ms. @default DEFAULT_LOOKUP_TIMEOUT (30000) */
  lookupTimeout?: number | undefined
  /** How long a lookup's answer (found or not found) is reused for the same target, in ms. @default LOOKUP_REUSE_TIME (30000) */
  lookupReuseTime?: number | undefined
  /** Told of each lookup's progress. */
  onLookup: (e: LookupProgress) => void
}

/** Resolves targets and looks peers up for one node. */
export class PeerResolver {
  private readonly libp2p: PeerResolverInit['libp2p']
  private readonly dht: PeerResolverInit['dht']
  private readonly log: Logger
  private readonly addressBook: AddressBook | undefined
  private readonly bootstrapCount: number
  private readonly racing: RacingMarks
  private readonly carries: ((ma: Multiaddr) => boolean) | undefined
  private readonly backendNames: () => string[]
  private readonly lookupTimeout: number
  private readonly onLookup: (e: LookupProgress) => void
  /** One DHT walk per target at a time, and its answer reused for a while (recent-lookups.ts). */
  private readonly recent: RecentLookups<LookupResult>

  constructor (init: PeerResolverInit) {
    this.libp2p = init.libp2p
    this.dht = init.dht
    this.log = init.log
    this.addressBook = init.addressBook
    this.bootstrapCount = init.bootstrapCount
    this.racing = init.racing
    this.carries = init.carries
    this.backendNames = init.backendNames
    this.lookupTimeout = init.lookupTimeout ?? DEFAULT_LOOKUP_TIMEOUT
    this.onLookup = init.onLookup
    this.recent = new RecentLookups({ reuseMs: init.lookupReuseTime, isAnswer: err => err instanceof PeerNotFoundError })
  }

  /**
   * Turn what a user typed into a target: a connect string, a peer id, or
   * `name.peer-id-prefix` (looked up in the DHT).
   */
  async resolve (text: string, signal?: AbortSignal): Promise<Target> {
    const name = looksLikeConnectString(text.trim()) ? undefined : parseNameTarget(text.trim())
    if (name == null) return parseTarget(text)
    try {
      checkNamePrefix(name)
    } catch (err) {
      if (err instanceof NamePrefixError) throw new InvalidTargetError(err.message)
      throw err
    }
    if (!this.dht.enabled) throw new PeerNotFoundError(text, `cannot resolve the name '${text}': the DHT is off`)
    try {
      const { value: found, reused } = await this.recent.run(`name:${name.name}.${name.prefix}`, async walk => {
        this.log.info({ name: name.name, prefix: name.prefix }, `looking up the name ${name.name}.${name.prefix} in the DHT`)
        try {
          const lookupSignal = this.lookupSignal(walk)
          await this.dht.waitForDhtPeer(lookupSignal)
          return await lookupName(this.libp2p, name, { signal: lookupSignal, log: this.log })
        } catch (err) {
          walk.throwIfAborted()
          throw new PeerNotFoundError(text, `cannot resolve '${text}': ${(err as Error).message}`)
        }
      }, signal)
      this.log.info({ peer: found.peerId.toString(), addresses: found.multiaddrs.length, ms: found.ms, reused }, `${name.name} is ${found.peerId.toString()}`)
      return { peerId: found.peerId, multiaddrs: found.multiaddrs }
    } catch (err) {
      signal?.throwIfAborted()
      throw err
    }
  }

  /**
   * Find a peer's addresses in the DHT (and remember them in the address
   * book). One walk per peer at a time: a lookup asked for while one runs, or
   * within {@link LOOKUP_REUSE_TIME} after one ended, gets that one's answer
   * (addresses, or PeerNotFoundError) without asking the DHT again.
   */
  async lookup (peerId: PeerId, signal?: AbortSignal): Promise<LookupResult> {
    const id = peerId.toString()
    try {
      const { value, reused, ageMs } = await this.recent.run(`peer:${id}`, async walk => await this.walk(peerId, walk), signal)
      if (reused) this.log.debug({ peer: id, addresses: value.multiaddrs.length, ageS: Math.round(ageMs / 1000) }, 'reusing a recent DHT lookup of the peer')
      return value
    } catch (err) {
      signal?.throwIfAborted()
      if (err instanceof PeerNotFoundError) this.log.debug({ peer: id, err: err.message }, 'the peer was not found in a recent DHT lookup')
      throw err
    }
  }

  /** One DHT walk for a peer: its `lookup` events, the address book. */
  private async walk (peerId: PeerId, signal: AbortSignal): Promise<LookupResult> {
    const id = peerId.toString()
    // no bootstrap node and no DHT peer met since: nobody to ask, so no pretending to look
    if (!this.dht.enabled) throw new PeerNotFoundError(id, 'the DHT is off')
    if (this.bootstrapCount === 0 && this.dht.peerCount === 0) throw new PeerNotFoundError(id, 'no DHT configured (no bootstrap node, no DHT peer)', { noBootstrap: true })
    this.log.info({ peer: id }, `looking up ${id} in the DHT`)
    this.onLookup({ peerId: id, state: 'started' })
    try {
      const lookupSignal = this.lookupSignal(signal)
      await this.dht.waitForDhtPeer(lookupSignal)
      const found = await lookupPeer(this.libp2p, peerId, { signal: lookupSignal, log: this.log })
      this.log.info({ peer: id, addresses: found.multiaddrs.length, ms: found.ms }, `found ${found.multiaddrs.length} address(es) in ${found.ms} ms`)
      this.onLookup({ peerId: id, state: 'found', addresses: found.multiaddrs.length, ms: found.ms })
      await this.addressBook?.put(id, found.multiaddrs).catch(() => {})
      return found
    } catch (err) {
      signal.throwIfAborted()
      const reason = (err as Error).message
      this.onLookup({ peerId: id, state: 'failed', error: reason })
      this.log.debug({ peer: id, err: reason }, 'DHT lookup failed')
      throw new PeerNotFoundError(id, `peer ${id} was not found in the DHT (${reason}; is its share running, and does it reach a bootstrap node?)`)
    }
  }

  /**
   * Resolve a target and make sure its addresses are known: from the target
   * itself, the address book, an open connection, or a DHT lookup; they are
   * merged into the peer store. Throws InvalidTargetError or
   * PeerNotFoundError.
   */
  async prepare (target: string | Target, signal?: AbortSignal): Promise<{ target: Target, addrs: Multiaddr[] }> {
    const t = this.carriedOnly(typeof target === 'string' ? await this.resolve(target, signal) : target)
    const id = t.peerId.toString()
    if (t.peerId.equals(this.libp2p.peerId)) throw new InvalidTargetError('cannot connect to this node\'s own peer id (use another identity for the connecting side)')
    let addrs = t.multiaddrs
    if (addrs.length === 0 && this.libp2p.getConnections(t.peerId).length === 0) {
      addrs = (await this.addressBook?.get(id)) ?? []
      if (addrs.length > 0) this.log.info({ peer: id, addresses: addrs.length }, 'using remembered addresses')
    }
    if (addrs.length === 0 && this.libp2p.getConnections(t.peerId).length === 0 && (await knownAddresses(this.libp2p, t.peerId)).length === 0) {
      if (!this.dht.enabled) throw new PeerNotFoundError(id)
      if (this.bootstrapCount === 0) throw new PeerNotFoundError(id, `no address known for peer ${id}, and no bootstrap node to look it up with (bootstrap-nodes.json is empty and no --bootstrap was given): use the connect string that 'beam share' printed`)
      // a DHT query may reach the peer itself (a share run as a DHT server):
      // that dial must not hold the peer's direct addresses (see RacingPeers)
      this.racing.add(t.peerId)
      try {
        addrs = (await this.lookup(t.peerId, signal)).multiaddrs.filter(ma => this.carries?.(ma) ?? true)
      } finally {
        this.racing.delete(t.peerId)
      }
    }
    if (addrs.length > 0) {
      await this.libp2p.peerStore.merge(t.peerId, { multiaddrs: addrs })
    }
    return { target: t, addrs }
  }

  /**
   * The target without the addresses an anonymous-only node's backends do
   * not carry; logged, so a user sees why an address of the connect string
   * was not tried. Throws InvalidTargetError when the target named addresses
   * and none is carried.
   */
  private carriedOnly (t: Target): Target {
    const carries = this.carries
    if (carries == null || t.multiaddrs.length === 0) return t
    const kept = t.multiaddrs.filter(ma => carries(ma))
    const dropped = t.multiaddrs.length - kept.length
    if (dropped === 0) return t
    const names = this.backendNames().join(' or ')
    this.log.info({ peer: t.peerId.toString(), dropped, kept: kept.length }, `dropped ${dropped} address(es) that ${names} does not carry (not resolved, not dialled)`)
    if (kept.length === 0) throw new InvalidTargetError(`the target has no address that ${names} carries`)
    return { ...t, multiaddrs: kept }
  }

  private lookupSignal (signal?: AbortSignal): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(this.lookupTimeout), ...(signal != null ? [signal] : [])])
  }
}
