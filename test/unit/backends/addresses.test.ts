/**
 * Each backend describes its own addresses (Backend.describeAddress): the
 * transport a `path` event names, and how the address reads for people.
 * Path ranking (transportOf) and the CLI's path line ask the backends
 * through describeBackendAddress instead of knowing onion3/anon3/garlic.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { atorBackend, b32Of, describeBackendAddress, directBackend, i2pBackend, torBackend, TRANSIENT_DESTINATION } from '../../../src/backends/index.ts'
import { transportOf } from '../../../src/peer/connect/path.ts'

const ID = 'a'.repeat(56)
const B32 = 'b'.repeat(52)
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

describe('backend addresses', () => {
  it('names the transport of each network as path events always did', () => {
    expect(transportOf(multiaddr(`/onion3/${ID}:4001/p2p/${PEER}`))).toBe('tor')
    expect(transportOf(multiaddr(`/anon3/${ID}:4001`))).toBe('ator')
    expect(transportOf(multiaddr(`/garlic32/${B32}/p2p/${PEER}`))).toBe('i2p')
    expect(transportOf(multiaddr(`/garlic64/${TRANSIENT_DESTINATION}`))).toBe('i2p')
    expect(transportOf(multiaddr('/ip4/127.0.0.1/tcp/4001'))).toBe('tcp')
    expect(transportOf(multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1'))).toBe('quic')
    expect(transportOf(multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}/p2p-circuit`))).toBe('relay')
  })

  it('shows each address as people write it', () => {
    expect(describeBackendAddress(multiaddr(`/onion3/${ID}:4001/p2p/${PEER}`))).toEqual({ transport: 'tor', network: 'Tor', kind: 'onion service', display: `${ID}.onion:4001` })
    expect(describeBackendAddress(multiaddr(`/anon3/${ID}:4001`))).toEqual({ transport: 'ator', network: 'ATOR', kind: 'onion service', display: `${ID}.anon:4001` })
    expect(describeBackendAddress(multiaddr(`/garlic32/${B32}`))).toEqual({ transport: 'i2p', network: 'I2P', kind: 'destination', display: `${B32}.b32.i2p` })
    expect(describeBackendAddress(multiaddr(`/garlic64/${TRANSIENT_DESTINATION}`))?.display).toBe(b32Of(TRANSIENT_DESTINATION))
    // the value the hand-written base32 gave before multiformats' base32 replaced it
    expect(b32Of(TRANSIENT_DESTINATION)).toBe('gem7z2yovuoqqbg3sd5qzb5dhaiit6osezfdo3cbuonanzjsuzaq.b32.i2p')
    expect(describeBackendAddress(multiaddr('/ip4/127.0.0.1/tcp/4001'))).toBeUndefined()
  })

  it('asks only the backends it is given, in order', () => {
    const onion = multiaddr(`/onion3/${ID}:4001`)
    expect(describeBackendAddress(onion, [directBackend, i2pBackend()])).toBeUndefined()
    expect(describeBackendAddress(onion, [torBackend()])?.transport).toBe('tor')
    expect(describeBackendAddress(multiaddr(`/anon3/${ID}:4001`), [torBackend(), atorBackend()])?.transport).toBe('ator')
  })
})
