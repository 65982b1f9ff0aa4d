/**
 * Which relays a share holds (src/peer/discovery/relay-choice.ts): full
 * relays before limited ones, the lowest round trip first, `want` of them,
 * held ones kept, one limited relay only while no full one is known.
 */
import { describe, it, expect } from 'vitest'
import { chooseRelays } from '../../../../src/peer/discovery/relay-choice.ts'
import type { CheckedRelay } from '../../../../src/peer/discovery/relay-choice.ts'

const full = (peerId: string, rttMs: number): CheckedRelay => ({ peerId, rttMs, kind: 'full' })
const limited = (peerId: string, rttMs: number): CheckedRelay => ({ peerId, rttMs, kind: 'limited' })
const ids = (rs: CheckedRelay[]): string[] => rs.map(r => r.peerId)

describe('chooseRelays', () => {
  it('holds the two full relays with the lowest round trip', () => {
    const c = chooseRelays([], [full('a', 80), full('b', 20), full('c', 40), full('d', 200)], 2)
    expect(ids(c.add)).toEqual(['b', 'c'])
    expect(c.drop).toEqual([])
  })

  it('prefers an unlimited relay to a limited one, however much faster the limited one is', () => {
    const c = chooseRelays([], [limited('pub1', 5), limited('pub2', 6), full('beam', 300)], 2)
    expect(ids(c.add)).toEqual(['beam'])
  })

  it('holds one limited relay (the fastest) for signalling when no full relay is found', () => {
    const c = chooseRelays([], [limited('pub1', 50), limited('pub2', 10), limited('pub3', 30)], 2)
    expect(ids(c.add)).toEqual(['pub2'])
  })

  it('keeps the limited relay it holds while still no full relay is found', () => {
    const c = chooseRelays([limited('pub1', 50)], [limited('pub2', 10)], 2)
    expect(c).toEqual({ add: [], drop: [] })
  })

  it('lets the limited relay go once a full one is found', () => {
    const c = chooseRelays([limited('pub1', 5)], [full('beam', 100)], 2)
    expect(ids(c.add)).toEqual(['beam'])
    expect(c.drop).toEqual(['pub1'])
  })

  it('keeps the full relays it holds rather than trading them for faster ones', () => {
    const c = chooseRelays([full('a', 90), full('b', 80)], [full('c', 1), full('d', 2)], 2)
    expect(c).toEqual({ add: [], drop: [] })
  })

  it('replaces a relay that died with the best remaining candidate', () => {
    // 'a' died: the finder takes it out of the held set and out of the candidates
    const c = chooseRelays([full('b', 30)], [full('c', 60), full('d', 45), limited('pub', 1)], 2)
    expect(ids(c.add)).toEqual(['d'])
    expect(c.drop).toEqual([])
  })

  it('holds what there is when fewer full relays than wanted exist, and no limited one beside them', () => {
    const c = chooseRelays([], [full('only', 70), limited('pub', 3)], 2)
    expect(ids(c.add)).toEqual(['only'])
  })

  it('holds N: one, three, and drops the slowest held ones beyond N', () => {
    const cands = [full('a', 10), full('b', 20), full('c', 30), full('d', 40)]
    expect(ids(chooseRelays([], cands, 1).add)).toEqual(['a'])
    expect(ids(chooseRelays([], cands, 3).add)).toEqual(['a', 'b', 'c'])
    expect(chooseRelays([full('x', 10), full('y', 90), full('z', 50)], [], 2).drop).toEqual(['y'])
  })

  it('ignores candidates that are already held, and chooses the same on every run when round trips tie', () => {
    const c = chooseRelays([full('a', 10)], [full('a', 10), full('c', 20), full('b', 20)], 2)
    expect(ids(c.add)).toEqual(['b'])
  })

  it('holds nothing when nothing is wanted', () => {
    expect(chooseRelays([limited('pub', 1)], [full('a', 1)], 0)).toEqual({ add: [], drop: ['pub'] })
  })
})
