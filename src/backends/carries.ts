import type { Multiaddr } from '@multiformats/multiaddr'
import type { Backend } from './backend.ts'

/**
 * Whether `backend` carries `ma`: the address starts with one of the
 * protocols the backend names in {@link Backend.addressProtocols}
 * (`/onion3/…`, `/garlic64/…`) and holds nothing after it but, at most, a
 * `/p2p/<peer id>`. Anything else (`/dnsaddr/…`, `/dns4/…`, `/ip4/…`, an
 * onion followed by a name or a circuit) is not carried, so a node that uses
 * only this backend drops it before storing, resolving or dialling it.
 *
 * The rule fits backends whose addresses name the destination in their first
 * part (Tor, ATOR, I2P); `direct` is never filtered this way.
 */
export function backendCarries (backend: Backend, ma: Multiaddr): boolean {
  const [first, ...rest] = ma.getComponents()
  if (first == null || !backend.addressProtocols.includes(first.name)) return false
  return rest.length === 0 || (rest.length === 1 && rest[0]?.name === 'p2p')
}

/** A predicate that keeps the addresses one of `backends` carries (see {@link backendCarries}). */
export function carriedBy (backends: Backend[]): (ma: Multiaddr) => boolean {
  return ma => backends.some(b => backendCarries(b, ma))
}
