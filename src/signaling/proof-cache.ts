import { timingSafeEqual } from 'node:crypto'
import { PROOF_LENGTH } from './constants.ts'
import { accessProof } from './handshake.ts'

/** The subset of a peer id the cache needs. */
interface PeerIdLike {
  toString: () => string
  toMultihash: () => { bytes: Uint8Array }
}

/** How many connectors' expected proofs a share keeps by default. */
export const DEFAULT_PROOF_CACHE_SIZE = 4096

/**
 * A share's check of access proofs, with the expected proof of each connector
 * kept: the proof depends only on the secret and the two peer ids, so every
 * tunnel from one connector presents the same bytes, and computing the HMAC
 * (with its key import) for each tunnel was ~4 % of a share's CPU per new
 * tunnel connection. A share's access policy is fixed when it starts, so the
 * cache takes the secret once (a copy); it starts over when it holds
 * `maxEntries` connectors.
 */
export class AccessProofCache {
  private readonly secret: Uint8Array
  private readonly share: Uint8Array
  private readonly maxEntries: number
  private readonly expected = new Map<string, Uint8Array>()

  /**
   * @param secret - the share's access secret
   * @param share - the share's own peer id (multihash bytes)
   * @param maxEntries - connectors kept before the cache starts over (default DEFAULT_PROOF_CACHE_SIZE)
   */
  constructor (secret: Uint8Array, share: Uint8Array, maxEntries: number = DEFAULT_PROOF_CACHE_SIZE) {
    this.secret = Uint8Array.from(secret)
    this.share = share
    this.maxEntries = maxEntries
  }

  /** Constant-time check of `proof` against what `connector` must present. */
  verify (connector: PeerIdLike, proof: Uint8Array | undefined): boolean {
    if (proof == null || proof.length !== PROOF_LENGTH) return false
    const key = connector.toString()
    let want = this.expected.get(key)
    if (want == null) {
      if (this.expected.size >= this.maxEntries) this.expected.clear()
      want = accessProof(this.secret, connector.toMultihash().bytes, this.share)
      this.expected.set(key, want)
    }
    return timingSafeEqual(want, proof)
  }
}
