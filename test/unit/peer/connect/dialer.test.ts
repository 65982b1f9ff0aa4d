/**
 * RacingPeers: the peers beam's dial race runs for, counted, so that the
 * connection gater (isDirectDialOf: test/unit/peer/libp2p/libp2p-options.test.ts)
 * knows whom to hold direct dials back for.
 */
import { describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { RacingPeers } from '../../../../src/peer/connect/dialer.ts'

const TARGET = '12D3KooWDTc6LHVF4wWivX7t1Ty6wLiVUjZJW7XyJ8FALTN69W6q'

describe('RacingPeers', () => {
  it('counts concurrent races for one peer', () => {
    const r = new RacingPeers()
    const peer = peerIdFromString(TARGET)
    expect(r.has(TARGET)).toBe(false)
    r.add(peer)
    r.add(peer)
    r.delete(peer)
    expect(r.has(peer)).toBe(true)
    r.delete(peer)
    expect(r.has(TARGET)).toBe(false)
    r.delete(peer)
    expect(r.has(TARGET)).toBe(false)
  })
})
