/** Pure parts of the Tor backend and its CLI flags (no Tor network needed). */
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { generateClientAuthKeys, parseClientAuthPrivateKey, parseClientAuthPublicKey, parseKeyValues, parseOnion3, socksReplyMessage, ONION_LISTEN_PROTOCOL } from '../../../src/backends/index.ts'
import { parseHostPort } from '../../../src/cli/backend-flags.ts'
import { withDefaultCommand } from '../../../src/cli/program.ts'
import { createBeam, torBackend } from '../../../src/index.ts'
import { freePort } from './tor-network.ts'

const ONION = 'vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd'

describe('tor control replies', () => {
  it('parses KEY=VALUE and quoted values with escapes', () => {
    const kv = parseKeyValues('AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/tor/control.authcookie" X="a \\"b\\" c"')
    expect(kv.get('METHODS')).toBe('COOKIE,SAFECOOKIE')
    expect(kv.get('COOKIEFILE')).toBe('/run/tor/control.authcookie')
    expect(kv.get('X')).toBe('a "b" c')
  })
})

describe('onion multiaddrs', () => {
  it('reads /onion3/<id>:<port>, with or without /p2p, and rejects others', () => {
    expect(parseOnion3(multiaddr(`/onion3/${ONION}:4001`))).toEqual({ serviceId: ONION, port: 4001 })
    expect(parseOnion3(multiaddr(`/onion3/${ONION}:4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN`))?.port).toBe(4001)
    expect(parseOnion3(multiaddr('/ip4/127.0.0.1/tcp/4001'))).toBeUndefined()
  })

  it('registers the listen protocol: /onion3-listen/<port> parses, a bad port does not', () => {
    expect(multiaddr(`/${ONION_LISTEN_PROTOCOL}/4001`).toString()).toBe('/onion3-listen/4001')
    expect(() => multiaddr(`/${ONION_LISTEN_PROTOCOL}/70000`)).toThrow()
  })
})

describe('SOCKS replies', () => {
  it('names Tor\'s extended codes', () => {
    expect(socksReplyMessage(0xf0)).toMatch(/descriptor not found/)
    expect(socksReplyMessage(0xf4)).toMatch(/client authorization/)
    expect(socksReplyMessage(0x42)).toBe('SOCKS reply 0x42')
  })
})

describe('client authorization keys', () => {
  it('makes keys in the encodings tor takes, and checks them', () => {
    const k = generateClientAuthKeys()
    expect(k.publicKey).toMatch(/^[A-Z2-7]{52}$/)
    expect(k.privateKey).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    expect(parseClientAuthPublicKey(`descriptor:x25519:${k.publicKey.toLowerCase()}`)).toBe(k.publicKey)
    expect(parseClientAuthPrivateKey(`x25519:${k.privateKey}`)).toBe(k.privateKey)
    expect(() => parseClientAuthPublicKey('nope')).toThrow(/client-auth public key/)
    expect(() => parseClientAuthPrivateKey('nope')).toThrow(/client-auth private key/)
  })
})

describe('CLI parsing for Tor', () => {
  it('takes IP:PORT, [V6]:PORT or PORT and refuses names', () => {
    expect(parseHostPort('9051', '--tor-control')).toEqual({ host: '127.0.0.1', port: 9051 })
    expect(parseHostPort('10.0.0.1:9150', '--tor-socks')).toEqual({ host: '10.0.0.1', port: 9150 })
    expect(parseHostPort('[::1]:9050', '--tor-socks')).toEqual({ host: '::1', port: 9050 })
    expect(() => parseHostPort('localhost:9050', '--tor-socks')).toThrow(/not a name/)
    expect(() => parseHostPort('127.0.0.1:0', '--tor-socks')).toThrow(/IP:PORT/)
  })

  it('beam PORT … means beam share PORT …', () => {
    expect(withDefaultCommand(['3000', '--tor'])).toEqual(['share', '3000', '--tor'])
    expect(withDefaultCommand(['localhost:8080'])).toEqual(['share', 'localhost:8080'])
    expect(withDefaultCommand(['connect', 'x'])).toEqual(['connect', 'x'])
    expect(withDefaultCommand(['--help'])).toEqual(['--help'])
    expect(withDefaultCommand([])).toEqual([])
  })
})

describe('createBeam with the tor backend and no tor', () => {
  it('rejects a share whose control port is closed with one clear BackendUnavailableError', async () => {
    const port = await freePort()
    const err = await createBeam({ backends: [torBackend({ controlPort: port })], listenOnBackends: true }).then(() => undefined, (e: Error) => e)
    expect(err?.name).toBe('BackendUnavailableError')
    expect(err?.message).toBe(`cannot listen on /onion3-listen/4001: cannot reach the Tor control port 127.0.0.1:${port} (ECONNREFUSED): is tor running with ControlPort ${port}?`)
  })

  it('refuses a clearnet listen address in Tor-only mode', async () => {
    const err = await createBeam({ backends: [torBackend()], listen: ['/ip4/127.0.0.1/tcp/0'] }).then(() => undefined, (e: Error) => e)
    expect(err?.name).toBe('InvalidOptionError')
    expect(err?.message).toMatch(/opens no clearnet listener/)
  })
})
