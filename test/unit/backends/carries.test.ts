/**
 * Which addresses a backend carries (src/backends/carries.ts): the test an
 * anonymous-only node filters every address with (its use by a node:
 * test/unit/peer/node/anonymous-addresses.test.ts).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { describe, it, expect } from 'vitest'
import { atorBackend, backendCarries, carriedBy, directBackend, i2pBackend, torBackend } from '../../../src/backends/index.ts'

const ONION = `/onion3/${'a'.repeat(56)}:4001`
const ANON = `/anon3/${'b'.repeat(56)}:4001`
const GARLIC32 = `/garlic32/${'c'.repeat(52)}`
/** Clearnet addresses that no libp2p resolver touches (no /dnsaddr). */
const CLEARNET = ['/dns4/leak-test.invalid/tcp/4001', '/ip4/192.0.2.7/tcp/4001', '/ip6/2001:db8::7/udp/4001/quic-v1']

describe('which addresses a backend carries', () => {
  it('its own protocols first, then nothing but /p2p', () => {
    const tor = torBackend()
    const id = '12D3KooWRLJKmj3Az6dTuZrbnJoxoS4oV6LnpkqmdcXn8FQBQ52E'
    expect(backendCarries(tor, multiaddr(ONION))).toBe(true)
    expect(backendCarries(tor, multiaddr(`${ONION}/p2p/${id}`))).toBe(true)
    for (const a of [...CLEARNET, '/dnsaddr/leak-test.invalid', `/dnsaddr/leak-test.invalid/p2p/${id}`, ANON, GARLIC32, `${ONION}/p2p-circuit/p2p/${id}`, `${ONION}/dns4/leak-test.invalid`]) {
      expect(backendCarries(tor, multiaddr(a)), a).toBe(false)
    }
    expect(backendCarries(atorBackend(), multiaddr(ANON))).toBe(true)
    expect(backendCarries(atorBackend(), multiaddr(ONION))).toBe(false)
    expect(backendCarries(i2pBackend(), multiaddr(GARLIC32))).toBe(true)
    const both = carriedBy([torBackend(), i2pBackend()])
    expect([ONION, ANON, GARLIC32, ...CLEARNET].filter(a => both(multiaddr(a)))).toEqual([ONION, GARLIC32])
    // direct addresses do not start with direct's protocols: direct is never filtered this way
    expect(backendCarries(directBackend, multiaddr('/ip4/127.0.0.1/tcp/1'))).toBe(false)
  })
})
