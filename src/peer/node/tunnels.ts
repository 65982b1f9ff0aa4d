import { AlreadySharingError } from '../errors.ts'
import { Share } from '../share/share.ts'
import { ConnectTunnel } from '../connect/connect.ts'
import { knownAddresses } from '../discovery/known-addresses.ts'
import { vouchForListenAddrs } from './addresses.ts'
import { runBenchmark } from '../diagnostics/benchmark.ts'
import type { PunchContext } from '../punch/index.ts'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ShareOptions } from '../share/share.ts'
import type { ConnectOptions } from '../connect/connect.ts'
import type { RacingPeers } from '../connect/dialer.ts'
import type { AddressBook } from '../discovery/address-book.ts'
import type { PeerResolver } from '../discovery/resolver.ts'
import type { Target } from '../discovery/target.ts'
import type { BenchmarkOptions, BenchResult } from '../diagnostics/benchmark.ts'
import type { Logger } from '../logger.ts'
import type { NodeStatus } from './init.ts'

/**
 * The tunnels of one node: its share (at most one) and its connect tunnels,
 * opened to targets the resolver made reachable, and closed with the node.
 * The addresses that worked are remembered in the address book.
 */

/** Components and options of {@link Tunnels}. */
export interface TunnelsInit {
  /** The node's libp2p. */
  libp2p: Libp2p
  /** The root logger (each share, tunnel and benchmark logs through a child). */
  log: Logger
  /** Makes targets' addresses known; looks peers up again when their addresses went stale. */
  resolver: Pick<PeerResolver, 'prepare' | 'lookup'>
  /** Whether the node runs the DHT (a tunnel may then look its peer up again). */
  dhtEnabled: () => boolean
  /** The node's dialable addresses (remembered for its own peer id when it shares). */
  addresses: () => Multiaddr[]
  /** Remembered addresses of peers. @default none */
  addressBook?: AddressBook | undefined
  /** Peers a dial race runs for. */
  racing: RacingPeers
  /** Upgrade relayed tunnels to WebRTC (the node runs WebRTC). */
  webrtc: boolean
  /** Connection reversal: a share dials back connectors that ask, a connector asks (not on anonymous-only nodes). */
  reversal: boolean
  /** Hole punching across one hard NAT (undefined: off). */
  punch?: PunchContext | undefined
}

/** The share and connect tunnels of one node. */
export class Tunnels {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly resolver: TunnelsInit['resolver']
  private readonly dhtEnabled: () => boolean
  private readonly addresses: () => Multiaddr[]
  private readonly addressBook: AddressBook | undefined
  private readonly racing: RacingPeers
  private readonly webrtc: boolean
  private readonly reversal: boolean
  private readonly punch: PunchContext | undefined
  private share_: Share | undefined
  private readonly connects = new Set<ConnectTunnel>()

  constructor (init: TunnelsInit) {
    this.libp2p = init.libp2p
    this.log = init.log
    this.resolver = init.resolver
    this.dhtEnabled = init.dhtEnabled
    this.addresses = init.addresses
    this.addressBook = init.addressBook
    this.racing = init.racing
    this.webrtc = init.webrtc
    this.reversal = init.reversal
    this.punch = init.punch
  }

  /** Start the node's share. Throws AlreadySharingError if it has one. */
  async share (options: ShareOptions): Promise<Share> {
    if (this.share_ != null) throw new AlreadySharingError()
    const share = new Share({ ...options, reversal: this.reversal, punch: this.punch, libp2p: this.libp2p, logger: this.log.child({ component: 'share' }), onClose: () => { this.share_ = undefined } })
    await share.start()
    this.share_ = share
    await this.addressBook?.put(this.libp2p.peerId.toString(), this.addresses()).catch(() => {})
    return share
  }

  /** Open a connect tunnel to a target. */
  async connect (target: string | Target, options: ConnectOptions = {}): Promise<ConnectTunnel> {
    const { target: t, addrs } = await this.resolver.prepare(target, options.signal)
    const id = t.peerId.toString()
    const refresh = this.dhtEnabled()
      ? async (signal: AbortSignal): Promise<Multiaddr[]> => (await this.resolver.lookup(t.peerId, signal)).multiaddrs
      : undefined
    const tunnel = new ConnectTunnel({ upgrade: this.webrtc, reversal: this.reversal, punch: this.punch, ownAddresses: this.addresses, vouch: addrs => { vouchForListenAddrs(this.libp2p, addrs) }, ...options, libp2p: this.libp2p, peerId: t.peerId, secret: t.secret, logger: this.log.child({ component: 'connect' }), onClose: () => { this.connects.delete(tunnel) }, refresh, racing: this.racing })
    this.connects.add(tunnel)
    // from here to the first connection only beam's dial race dials the
    // peer's direct addresses (see RacingPeers)
    this.racing.add(t.peerId)
    try {
      await tunnel.start(options)
    } catch (err) {
      await tunnel.close()
      throw err
    } finally {
      this.racing.delete(t.peerId)
    }
    // what the peer store knows now: a refresh lookup may have replaced stale addresses
    const known = await knownAddresses(this.libp2p, t.peerId)
    const remember = known.length > 0 ? known : addrs
    if (remember.length > 0) await this.addressBook?.put(id, remember).catch(() => {})
    return tunnel
  }

  /** Measure each path to a target's share. */
  async benchmark (target: string | Target, options: BenchmarkOptions = {}): Promise<BenchResult[]> {
    const { target: t } = await this.resolver.prepare(target, options.signal)
    const addrs = await knownAddresses(this.libp2p, t.peerId)
    return await runBenchmark(this.libp2p, t.peerId, addrs, t.secret, this.log.child({ component: 'benchmark' }), options)
  }

  /** The share's part of the node's status. */
  shareStatus (): NodeStatus['share'] {
    return this.share_ != null ? { ports: this.share_.services.map(s => s.port), openTunnels: this.share_.openTunnels } : null
  }

  /** Open connect tunnels. */
  get connectCount (): number { return this.connects.size }

  /** Close the share and every connect tunnel. */
  async close (): Promise<void> {
    await this.share_?.close()
    await Promise.all([...this.connects].map(async c => { await c.close() }))
  }
}
