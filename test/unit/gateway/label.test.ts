import { describe, it, expect } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { labelOfHost, nameProblem, peerIdOfLabel, shareLabel, requestHeaders, forwardedNode } from '../../../src/gateway/index.ts'

describe('gateway names', () => {
  it('gives every Ed25519 peer id a one-label, lowercase, reversible name that no short name can equal', async () => {
    for (let i = 0; i < 20; i++) {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const label = shareLabel(id)
      expect(label).toMatch(/^k51[0-9a-z]{59}$/)
      expect(label.length).toBeLessThanOrEqual(63)
      expect(peerIdOfLabel(label)?.equals(id)).toBe(true)
      // case does not matter (DNS does not keep it)
      expect(peerIdOfLabel(label.toUpperCase())?.equals(id)).toBe(true)
      expect(nameProblem(label)).toBeDefined()
    }
    expect(peerIdOfLabel('myapp')).toBeUndefined()
    expect(peerIdOfLabel('k51' + 'z'.repeat(59))).toBeUndefined()
  })

  it('reads the share label from a Host header under the domain only', () => {
    expect(labelOfHost('MyApp.GW.test:8443', 'gw.test')).toBe('myapp')
    expect(labelOfHost('myapp.gw.test.', 'gw.test')).toBe('myapp')
    expect(labelOfHost('gw.test', 'gw.test')).toBe('')
    expect(labelOfHost('a.b.gw.test', 'gw.test')).toBeUndefined()
    expect(labelOfHost('evilgw.test', 'gw.test')).toBeUndefined()
    expect(labelOfHost('[::1]:443', 'gw.test')).toBeUndefined()
    expect(labelOfHost(undefined, 'gw.test')).toBeUndefined()
  })

  it('takes 1-32 character names that start with a letter, not the reserved ones', () => {
    expect(nameProblem('myapp')).toBeUndefined()
    expect(nameProblem('a')).toBeUndefined()
    expect(nameProblem('my-app-2')).toBeUndefined()
    expect(nameProblem('a'.repeat(33))).toMatch(/not a gateway name/)
    expect(nameProblem('2app')).toMatch(/not a gateway name/)
    expect(nameProblem('app-')).toMatch(/not a gateway name/)
    expect(nameProblem('My')).toMatch(/not a gateway name/)
    expect(nameProblem('www')).toBe("'www' is reserved on gateways")
  })
})

describe('gateway forwarding headers', () => {
  const visitor = { address: '::ffff:192.0.2.7', host: 'myapp.gw.test', proto: 'https' as const }

  it('replaces the visitor\'s forwarding headers and drops hop-by-hop ones', () => {
    const out = requestHeaders({
      host: 'myapp.gw.test',
      'x-forwarded-for': '10.0.0.1',
      'X-Forwarded-Host': 'bank.example',
      forwarded: 'for=10.0.0.1',
      'x-real-ip': '10.0.0.1',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': '1',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      cookie: 'a=b',
      ':path': '/h2-pseudo'
    }, visitor)
    expect(out).toEqual({
      cookie: 'a=b',
      host: 'myapp.gw.test',
      'x-forwarded-for': '192.0.2.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'myapp.gw.test',
      forwarded: 'for=192.0.2.7;host="myapp.gw.test";proto=https'
    })
  })

  it('drops Keep-Alive under the plain Connection values too (Keep-Alive, close)', () => {
    for (const connection of ['Keep-Alive', 'close']) {
      const out = requestHeaders({ connection, 'keep-alive': 'timeout=5', accept: '*/*' }, visitor)
      expect(Object.keys(out).sort()).toEqual(['accept', 'forwarded', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'])
    }
  })

  it('keeps Connection and Upgrade for an upgrade, and writes IPv6 as RFC 7239 wants', () => {
    const out = requestHeaders({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' }, { ...visitor, address: '2001:db8::1' }, true)
    expect(out.connection).toBe('upgrade')
    expect(out.upgrade).toBe('websocket')
    expect(out['sec-websocket-key']).toBe('k')
    expect(out.forwarded).toBe('for="[2001:db8::1]";host="myapp.gw.test";proto=https')
    expect(forwardedNode('198.51.100.4')).toBe('198.51.100.4')
  })
})
