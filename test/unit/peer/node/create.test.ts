/**
 * Building a node from its BeamInit (src/peer/node/create.ts): the shaping
 * of an anonymous-only init, the DHT server rule, and the one-line error of
 * a backend whose listener failed.
 */
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { anonymousOnly, anonymousOnlyBackends, backendListenError, isDhtServer } from '../../../../src/peer/node/create.ts'
import { directBackend, torBackend } from '../../../../src/backends/index.ts'
import { createBeam } from '../../../../src/peer/index.ts'

const tor = torBackend({ socksPort: 1 })
const torListen = tor.listenAddrs?.() ?? []

describe('anonymousOnly', () => {
  it('turns every clearnet part off', () => {
    const init = anonymousOnly({ bootstrap: [multiaddr('/ip4/127.0.0.1/tcp/1')], iceServers: [{ urls: 'stun:127.0.0.1:3478' }], lookupTimeout: 5 }, [tor])
    expect(init).toMatchObject({
      bootstrap: [],
      iceServers: [],
      dht: false,
      announce: [],
      lookupTimeout: 5,
      transports: { tcp: false, quic: false, websockets: false, webrtc: false, relay: false }
    })
  })

  it('refuses a clearnet listen or announce address, reservations and a relay server', () => {
    expect(() => anonymousOnly({ listen: ['/ip4/127.0.0.1/tcp/0'] }, [tor])).toThrow(/tor-only mode opens no clearnet listener/)
    expect(() => anonymousOnly({ announce: ['/ip4/192.0.2.1/tcp/1'] }, [tor])).toThrow(/cannot listen on or announce/)
    expect(() => anonymousOnly({ reservations: 1 }, [tor])).toThrow(/reservations must be 0/)
    expect(() => anonymousOnly({ relayServer: {} }, [tor])).toThrow(/a relay server needs the direct backend/)
    expect(() => anonymousOnly({ listen: torListen }, [tor])).not.toThrow()
  })
})

describe('anonymousOnlyBackends', () => {
  it('filters addresses only when direct is not among the backends', () => {
    expect(anonymousOnlyBackends(undefined)).toBeUndefined()
    expect(anonymousOnlyBackends([directBackend, tor])).toBeUndefined()
    const carries = anonymousOnlyBackends([tor])
    expect(carries?.(multiaddr(`/onion3/${'a'.repeat(56)}:4001`))).toBe(true)
    expect(carries?.(multiaddr('/ip4/192.0.2.7/tcp/4001'))).toBe(false)
  })
})

describe('isDhtServer', () => {
  it('relays and nodes that ask are servers; the rest are clients', () => {
    expect(isDhtServer({})).toBe(false)
    expect(isDhtServer({ relayServer: {} })).toBe(true)
    expect(isDhtServer({ dht: { server: true } })).toBe(true)
    expect(isDhtServer({ dht: false, relayServer: {} })).toBe(false)
  })
})

describe('backendListenError', () => {
  it('names the backend address whose listener failed, in one line', () => {
    const addr = torListen[0] ?? ''
    const err = new Error(`Some configured addresses failed to listen:\n  ${addr}: Error: no control port\n    at stack (x.js:1:1)`)
    err.name = 'UnsupportedListenAddressesError'
    const out = backendListenError(err, [tor])
    expect(out?.name).toBe('BackendUnavailableError')
    expect(out?.message).toBe(`cannot listen on ${addr}: no control port`)
  })

  it('leaves other errors and other addresses alone', () => {
    expect(backendListenError(new Error('x'), [tor])).toBeUndefined()
    const err = new Error('Some configured addresses failed to listen:\n  /ip4/127.0.0.1/tcp/1: Error: in use')
    err.name = 'UnsupportedListenAddressesError'
    expect(backendListenError(err, [tor])).toBeUndefined()
  })
})

describe('createBeam', () => {
  it('refuses an empty or repeated backend list before starting anything', async () => {
    await expect(createBeam({ backends: [] })).rejects.toMatchObject({ name: 'InvalidOptionError' })
    await expect(createBeam({ backends: [directBackend, directBackend] })).rejects.toMatchObject({ name: 'InvalidOptionError', message: "backend 'direct' is listed twice" })
    await expect(createBeam({ reservations: 9 })).rejects.toMatchObject({ name: 'InvalidOptionError', message: 'reservations must be 0-8' })
  })
})
