import { isLinkLocal, isLoopback, isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * How far this node can be reached from outside its own network, from its
 * addresses and the relay reservations it holds (a pure classifier; the node
 * feeds it, see BeamNode.reachability):
 *
 * - `public`: dialable directly. It has a public address: a listen address
 *   on a public interface, an announced one (`announce`), or an observed one
 *   that AutoNAT confirmed; or an address on an overlay network (onion,
 *   garlic) that anyone on that network can dial.
 * - `relayed`: it holds a reservation on a relay that puts no limit on
 *   relayed connections, so a tunnel can run through it.
 * - `signalling-only`: its only reservations are on limited relays (a data or
 *   duration cap, as the public libp2p network's relays have): peers can reach
 *   it to set up a direct path, but not carry a tunnel that way.
 * - `lan-only`: nothing outside this network can reach it: private or
 *   loopback addresses only, and no relay.
 */
export type Reachability = 'public' | 'relayed' | 'signalling-only' | 'lan-only'

/** Where an address of this node comes from (libp2p's address manager's `type`). */
export type AddressOrigin = 'listen' | 'announce' | 'observed' | 'mapped'

/** One address of this node, as {@link classifyReachability} reads it. */
export interface OwnAddress {
  /** The address (without `/p2p/<self>`, or with: either works). */
  multiaddr: Multiaddr
  /** How the node knows it. */
  origin: AddressOrigin
  /** Whether a peer (AutoNAT) dialled back on it. Announced addresses count as confirmed. */
  confirmed: boolean
}

/** A relay this node holds a reservation on. */
export interface HeldRelay {
  /** The relay's peer id. */
  relay: string
  /**
   * Whether the relay limits relayed connections (data or duration), as its
   * reservation answer said; undefined while not known yet (treated as limited).
   */
  limited: boolean | undefined
}

/** What {@link classifyReachability} reads. */
export interface ReachabilityInput {
  /** The node's own addresses, relayed ones included or not (they are skipped). */
  addresses: OwnAddress[]
  /** The relays holding a reservation for it now. */
  relays: HeldRelay[]
}

const IP_PROTOCOLS = new Set(['ip4', 'ip6'])
const NAME_PROTOCOLS = new Set(['dns', 'dns4', 'dns6', 'dnsaddr'])

/** Whether `ma` goes through a relay (`/p2p-circuit`). */
function isCircuit (ma: Multiaddr): boolean {
  return ma.getComponents().some(c => c.name === 'p2p-circuit')
}

/** Whether a peer elsewhere on the internet (or on the overlay network) could dial `a`. */
export function isPublicAddress (a: OwnAddress): boolean {
  if (isCircuit(a.multiaddr)) return false
  const first = a.multiaddr.getComponents()[0]
  if (first == null) return false
  if (IP_PROTOCOLS.has(first.name)) {
    const value = first.value ?? ''
    if (value === '0.0.0.0' || value === '::') return false
    if (isPrivate(a.multiaddr) || isLoopback(a.multiaddr) || isLinkLocal(a.multiaddr)) return false
    // a listen address on a public interface needs no NAT; an observed or mapped one needs a dial-back
    return a.origin === 'listen' || a.origin === 'announce' || a.confirmed
  }
  // a name: only when this node was told to announce it (it resolves to whatever its owner made it)
  if (NAME_PROTOCOLS.has(first.name)) return a.origin === 'announce' && first.value !== 'localhost'
  // onion3, garlic64, anon3…: anyone on that network can dial it
  return a.origin === 'listen' || a.origin === 'announce'
}

/** Classify a node's reachability (pure; see {@link Reachability}). */
export function classifyReachability (input: ReachabilityInput): Reachability {
  if (input.addresses.some(isPublicAddress)) return 'public'
  if (input.relays.some(r => r.limited === false)) return 'relayed'
  if (input.relays.length > 0) return 'signalling-only'
  return 'lan-only'
}
