import { peerIdFromCID } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'

/**
 * Host names of shares on a gateway. Every share has a label derived from its
 * peer id: the peer id as a CIDv1 (codec libp2p-key) in base36, what IPFS
 * subdomain gateways use. An Ed25519 peer id gives 62 characters, all
 * lowercase letters and digits: one DNS label (at most 63), and case does not
 * matter because base36 has one case. A short name (`myapp`) is at most 32
 * characters, so a name never looks like a label.
 */

/** A claimable short name: 1-32 of a-z, 0-9 and inner '-', starting with a letter. */
export const GATEWAY_NAME_RE = /^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/

/** Names no share may claim (they would look like the gateway's own). */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['www', 'gateway', 'admin', 'api', 'status', 'metrics'])

/** The share's DNS label: its peer id as a base36 CIDv1. */
export function shareLabel (peerId: PeerId): string {
  return peerId.toCID().toString(base36)
}

/** The peer id a label names, or undefined when it is no peer id label. */
export function peerIdOfLabel (label: string): PeerId | undefined {
  const l = label.toLowerCase()
  if (l.length < 50 || l.length > 63 || !l.startsWith('k')) return undefined
  try {
    return peerIdFromCID(CID.parse(l, base36))
  } catch {
    return undefined
  }
}

/** Why a short name cannot be claimed, or undefined when it can. */
export function nameProblem (name: string): string | undefined {
  if (!GATEWAY_NAME_RE.test(name)) return `'${name.slice(0, 40)}' is not a gateway name: use 1-32 lowercase letters, digits and inner '-', starting with a letter`
  if (RESERVED_NAMES.has(name)) return `'${name}' is reserved on gateways`
  return undefined
}

/**
 * The label a Host header names under `domain` (lowercase, port dropped), ''
 * for the domain itself, undefined for another host or a deeper name.
 */
export function labelOfHost (host: string | undefined, domain: string): string | undefined {
  if (host == null) return undefined
  let h = host.trim().toLowerCase()
  // drop the port (a bracketed IPv6 literal is never under a domain)
  const colon = h.lastIndexOf(':')
  if (colon > 0 && /^\d+$/.test(h.slice(colon + 1))) h = h.slice(0, colon)
  if (h.endsWith('.')) h = h.slice(0, -1)
  if (h === domain) return ''
  if (!h.endsWith(`.${domain}`)) return undefined
  const label = h.slice(0, -domain.length - 1)
  return label.includes('.') || label.length === 0 ? undefined : label
}
