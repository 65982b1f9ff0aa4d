/**
 * Which relays a share holds, as a pure rule (RelayFinder applies it): relays
 * whose relayed connections are unlimited ("full": they can carry a tunnel)
 * before limited ones (a public libp2p relay with the library's 2 min /
 * 128 KiB: good for signalling only), the lowest round trip first; `want`
 * full relays, or one limited relay while no full one is known.
 */

/** What a relay's reservation answer said about its relayed connections. */
export type RelayKind = 'full' | 'limited'

/** A relay that granted this node a reservation when it was checked. */
export interface CheckedRelay {
  /** Its peer id. */
  peerId: string
  /** Round trip of a ping to it when checked, in ms. */
  rttMs: number
  /** `full`: its reservation carried no limit; `limited`: a data or duration limit. */
  kind: RelayKind
}

/** What to change in the held set. */
export interface RelayChoice {
  /** Relays to reserve on now, best first. */
  add: CheckedRelay[]
  /** Held relays to let go (peer ids). */
  drop: string[]
}

/** Lower round trip first; the peer id breaks ties, so the choice is the same on every run. */
export function byRtt (a: CheckedRelay, b: CheckedRelay): number {
  return a.rttMs - b.rttMs || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
}

/**
 * Given the relays held now and the checked candidates (held ones among the
 * candidates are ignored), what to add and drop so that the node holds:
 * - up to `want` full relays: every held full relay is kept (a working
 *   reservation is not traded for a slightly faster one: each change is a new
 *   connect string), free places go to the candidates with the lowest RTT;
 *   beyond `want`, the slowest held ones are dropped;
 * - one limited relay, for signalling, only while no full relay is held or
 *   added: the held one is kept, else the candidate with the lowest RTT;
 *   every limited relay is dropped once a full one is there.
 */
export function chooseRelays (held: CheckedRelay[], candidates: CheckedRelay[], want: number): RelayChoice {
  const heldIds = new Set(held.map(r => r.peerId))
  const fresh = candidates.filter(c => !heldIds.has(c.peerId))
  const heldFull = held.filter(r => r.kind === 'full').sort(byRtt)
  const heldLimited = held.filter(r => r.kind === 'limited').sort(byRtt)
  const drop: string[] = heldFull.slice(Math.max(want, 0)).map(r => r.peerId)
  const keptFull = heldFull.length - drop.length
  const add = fresh.filter(c => c.kind === 'full').sort(byRtt).slice(0, Math.max(want - keptFull, 0))
  if (keptFull + add.length > 0) {
    drop.push(...heldLimited.map(r => r.peerId))
  } else if (want > 0) {
    const [keep, ...extra] = heldLimited
    drop.push(...extra.map(r => r.peerId))
    if (keep == null) {
      const [best] = fresh.filter(c => c.kind === 'limited').sort(byRtt)
      if (best != null) add.push(best)
    }
  } else {
    drop.push(...heldLimited.map(r => r.peerId))
  }
  return { add, drop }
}
