import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { AddressOrigin, OwnAddress } from './reachability.ts'

/**
 * The addresses a node gives to other peers: libp2p's own, plus the
 * listen addresses AutoNAT has not confirmed, without `/p2p/<self>`,
 * duplicates or link-local addresses.
 */

/** The multicodec of `/p2p`. */
const P2P_CODE = 421

/** Addresses other peers can dial this node on now (listening or announced). */
export function dialableAddrs (libp2p: Libp2p): Multiaddr[] {
  const seen = new Set<string>()
  return [...libp2p.getMultiaddrs(), ...unverifiedListenAddrs(libp2p)]
    .map(ma => ma.decapsulateCode(P2P_CODE))
    .filter(ma => { const k = ma.toString(); if (seen.has(k)) return false; seen.add(k); return true })
    // link-local addresses need a zone id to be dialled: useless to a peer
    .filter(ma => !/^\/ip6\/fe[89ab][0-9a-f]:|^\/ip4\/169\.254\./i.test(ma.toString()))
}

/** Of `addrs`, the relayed ones (`…/p2p-circuit`): the reservations a node holds. */
export function relayedAddrs (addrs: Multiaddr[]): Multiaddr[] {
  return addrs.filter(ma => ma.getComponents().some(c => c.name === 'p2p-circuit'))
}

/** The part of libp2p's internal components read by {@link unverifiedListenAddrs} and {@link vouchForListenAddrs}. */
interface WithAddressManager {
  components?: {
    addressManager?: {
      getAddressesWithMetadata?: () => Array<{ multiaddr: Multiaddr, verified: boolean, type: string }>
      confirmObservedAddr?: (addr: Multiaddr, options?: { type?: string }) => void
    }
    transportManager?: { getAddrs?: () => Multiaddr[] }
  }
}

/** libp2p's address manager method that recomputes the node's own addresses (debounced by 1 s). */
interface WithAddressUpdate {
  components?: { addressManager?: { _updatePeerStoreAddresses?: () => void } }
}

/**
 * Make libp2p compute this node's addresses again (a wildcard listener's
 * addresses follow the interfaces, but libp2p looks only when a listener or
 * an observed address changes): a change becomes a `self:peer:update` event
 * about a second later. No-op when libp2p does not expose it.
 */
export function recomputeOwnAddresses (libp2p: Libp2p): void {
  try {
    (libp2p as unknown as WithAddressUpdate).components?.addressManager?._updatePeerStoreAddresses?.()
  } catch {}
}

/**
 * The addresses this node's listeners are bound to (a wildcard host once per
 * interface), whatever it announces; empty when libp2p does not expose them.
 */
export function listeningAddrs (libp2p: Libp2p): Multiaddr[] {
  try {
    return (libp2p as unknown as WithAddressManager).components?.transportManager?.getAddrs?.() ?? []
  } catch {
    return []
  }
}

/**
 * Count these listen addresses of this node (on its own interfaces, not
 * yet confirmed by AutoNAT) as confirmed for libp2p's verification time
 * (10 min in libp2p 3.3), so that identify tells them to peers. A connector
 * asking for connection reversal needs that: a share dials back only
 * addresses the peer itself announced over identify, and libp2p withholds
 * unconfirmed public listen addresses from identify. Addresses that are not
 * this node's listen addresses are left alone.
 */
export function vouchForListenAddrs (libp2p: Libp2p, addrs: Multiaddr[]): void {
  const am = (libp2p as unknown as WithAddressManager).components?.addressManager
  const listen = new Set(unverifiedListenAddrs(libp2p).map(a => a.decapsulateCode(P2P_CODE).toString()))
  for (const a of addrs) {
    if (!listen.has(a.decapsulateCode(P2P_CODE).toString())) continue
    try {
      am?.confirmObservedAddr?.(a, { type: 'transport' })
    } catch {}
  }
}

/**
 * This node's own listen addresses on public interfaces that AutoNAT has not
 * confirmed yet. libp2p withholds them from getMultiaddrs() until a peer has
 * dialled back, which never happens without an AutoNAT server (a LAN, a
 * public host before its first relay). A connect string carries them anyway:
 * a connector dials all direct addresses at once, so a dead one costs nothing.
 * (Read through libp2p's components: the public Libp2p type has no accessor.)
 */
function unverifiedListenAddrs (libp2p: Libp2p): Multiaddr[] {
  const am = (libp2p as unknown as WithAddressManager).components?.addressManager
  try {
    return (am?.getAddressesWithMetadata?.() ?? [])
      .filter(a => a.type === 'transport' && !a.verified)
      .map(a => a.multiaddr)
  } catch {
    return []
  }
}

const ORIGINS: Record<string, AddressOrigin> = { transport: 'listen', announce: 'announce', observed: 'observed', 'ip-mapping': 'mapped', 'dns-mapping': 'mapped' }

/**
 * This node's addresses with where each comes from and whether a peer
 * confirmed it (libp2p's address manager), for the reachability classifier.
 * Empty when libp2p does not expose them.
 */
export function ownAddresses (libp2p: Libp2p): OwnAddress[] {
  const am = (libp2p as unknown as WithAddressManager).components?.addressManager
  try {
    return (am?.getAddressesWithMetadata?.() ?? []).map(a => ({ multiaddr: a.multiaddr, origin: ORIGINS[a.type] ?? 'observed', confirmed: a.verified }))
  } catch {
    return []
  }
}
