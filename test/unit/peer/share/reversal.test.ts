import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ReversalBudget, reversalTargets, REVERSAL_ATTEMPTS_PER_PEER, REVERSAL_WINDOW, MAX_REVERSALS_IN_FLIGHT } from '../../../../src/peer/share/reversal.ts'

const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const m = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)

describe('reversalTargets: a share dials back only what the peer announced itself, public TCP/QUIC, to that peer', () => {
  const announced = [m('/ip4/8.8.4.4/tcp/4001'), m('/ip4/8.8.4.4/udp/4001/quic-v1'), m('/ip4/127.0.0.1/tcp/4001'), m('/ip4/192.168.1.9/tcp/4001')]

  it('keeps announced public addresses and pins the peer id on each', () => {
    const out = reversalTargets([m('/ip4/8.8.4.4/tcp/4001'), m(`/ip4/8.8.4.4/udp/4001/quic-v1/p2p/${peer.toString()}`)], announced, peer)
    expect(out.map(a => a.toString())).toEqual([`/ip4/8.8.4.4/tcp/4001/p2p/${peer.toString()}`, `/ip4/8.8.4.4/udp/4001/quic-v1/p2p/${peer.toString()}`])
  })

  it('drops a third party\'s address the peer did not announce (no dialling others on request)', () => {
    expect(reversalTargets([m('/ip4/1.1.1.1/tcp/443')], announced, peer)).toEqual([])
    // the same IP on another port is another service
    expect(reversalTargets([m('/ip4/8.8.4.4/tcp/22')], announced, peer)).toEqual([])
  })

  it('drops loopback and LAN addresses even when announced (no probing the share\'s own networks)', () => {
    expect(reversalTargets([m('/ip4/127.0.0.1/tcp/4001'), m('/ip4/192.168.1.9/tcp/4001')], announced, peer)).toEqual([])
  })

  it('drops an address naming another peer id, and matches announced addresses given with the peer id', () => {
    expect(reversalTargets([m(`/ip4/8.8.4.4/tcp/4001/p2p/${other.toString()}`)], announced, peer)).toEqual([])
    const withId = [m(`/ip4/8.8.4.4/tcp/4001/p2p/${peer.toString()}`)]
    expect(reversalTargets([m('/ip4/8.8.4.4/tcp/4001')], withId, peer)).toHaveLength(1)
    expect(reversalTargets([m('/ip4/8.8.4.4/tcp/4001')], [m(`/ip4/8.8.4.4/tcp/4001/p2p/${other.toString()}`)], peer)).toEqual([])
  })

  it('dials each address once and at most four', () => {
    const many = Array.from({ length: 8 }, (_, i) => m(`/ip4/8.8.4.${i + 1}/tcp/4001`))
    expect(reversalTargets([...many, ...many], many, peer)).toHaveLength(4)
    expect(reversalTargets([m('/ip4/8.8.4.4/tcp/4001'), m('/ip4/8.8.4.4/tcp/4001')], announced, peer)).toHaveLength(1)
  })
})

describe('ReversalBudget', () => {
  it(`allows ${REVERSAL_ATTEMPTS_PER_PEER} attempts per peer per window, then again after it`, () => {
    const b = new ReversalBudget()
    for (let i = 0; i < REVERSAL_ATTEMPTS_PER_PEER; i++) {
      expect(b.take('p', 1000 + i)).toBeUndefined()
      b.release()
    }
    expect(b.take('p', 2000)).toBe('peer')
    expect(b.take('q', 2000)).toBeUndefined()
    b.release()
    expect(b.take('p', 1000 + REVERSAL_WINDOW + 10)).toBeUndefined()
  })

  it(`runs at most ${MAX_REVERSALS_IN_FLIGHT} dial-backs at once over all peers`, () => {
    const b = new ReversalBudget()
    for (let i = 0; i < MAX_REVERSALS_IN_FLIGHT; i++) expect(b.take(`p${i}`, 0)).toBeUndefined()
    expect(b.take('late', 0)).toBe('total')
    b.release()
    expect(b.take('late', 0)).toBeUndefined()
  })
})
