import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { decodeConnectString, looksLikeConnectString } from './connect-string.ts'
import { InvalidTargetError } from '../errors.ts'

/** Whom to connect to: what a peer id or a connect string says. */
export interface Target {
  /** The peer's id. */
  peerId: PeerId
  /** Addresses to dial (from a connect string; [] for a bare peer id). */
  multiaddrs: Multiaddr[]
  /** The access secret a connect string carried. */
  secret?: Uint8Array
}

/** Parse a peer id. Throws InvalidTargetError with a one-line reason. */
export function parsePeerId (text: string): PeerId {
  try {
    return peerIdFromString(text.trim())
  } catch {
    throw new InvalidTargetError(`'${abbreviate(text)}' is not a valid peer id`)
  }
}

/**
 * Turn what the user typed into a target: a connect string (`beam…`) or a
 * bare peer id (`12D3Koo…`). Throws InvalidConnectStringError or
 * InvalidTargetError.
 */
export function parseTarget (text: string): Target {
  const t = text.trim()
  if (looksLikeConnectString(t)) {
    const cs = decodeConnectString(t)
    const target: Target = { peerId: cs.peerId, multiaddrs: cs.multiaddrs }
    if (cs.secret != null) target.secret = cs.secret
    return target
  }
  try {
    return { peerId: peerIdFromString(t), multiaddrs: [] }
  } catch {
    throw new InvalidTargetError(`'${abbreviate(t)}' is neither a peer id nor a beam connect string`)
  }
}

function abbreviate (s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}
