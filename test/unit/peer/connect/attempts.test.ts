import { describe, it, expect } from 'vitest'
import { describeAddress, describeAttempts, describeDialFailure } from '../../../../src/peer/connect/attempts.ts'

describe('what a dial tried, in one line', () => {
  it('names each address by transport and host:port', () => {
    expect(describeAddress('/ip4/127.0.0.1/tcp/4001')).toBe('tcp 127.0.0.1:4001')
    expect(describeAddress('/ip6/::1/udp/4001/quic-v1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')).toBe('quic [::1]:4001')
    expect(describeAddress('/ip4/10.0.0.1/tcp/443/wss')).toBe('wss 10.0.0.1:443')
    expect(describeAddress('/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')).toBe('relay tcp 10.0.0.1:4001')
  })

  it('says what the error means', () => {
    expect(describeDialFailure('connect ECONNREFUSED 127.0.0.1:4001')).toBe('connection refused')
    expect(describeDialFailure('The operation was aborted due to timeout')).toBe('no answer')
    expect(describeDialFailure('relay unreachable: connect EHOSTUNREACH 10.0.0.1:4001')).toBe('relay unreachable (host unreachable)')
  })

  it('keeps the cause at the end of a long message (an onion address fills the start)', () => {
    const onion = `${'v'.repeat(56)}.onion:4001`
    const tor = `Tor could not connect to ${onion}: onion service needs client authorization (restricted discovery)`
    expect(describeDialFailure(tor)).toBe(tor)
    const longer = `${'x'.repeat(300)}: the cause`
    const short = describeDialFailure(longer)
    expect(short.length).toBeLessThanOrEqual(200)
    expect(short).toMatch(/^x{60}…x+: the cause$/)
  })

  it('lists every address with its last answer, then the DHT part', () => {
    const refused = { address: '/ip4/127.0.0.1/tcp/4001', kind: 'direct' as const, ok: false, ms: 1, error: 'connect ECONNREFUSED 127.0.0.1:4001' }
    expect(describeAttempts([{ attempts: [refused], dht: 'none' }, { attempts: [refused], dht: 'none' }])).toBe('tcp 127.0.0.1:4001: connection refused; no DHT configured')
    expect(describeAttempts([{ attempts: [refused], dht: 'off' }])).toBe('tcp 127.0.0.1:4001: connection refused; DHT off')
    expect(describeAttempts([{ attempts: [refused], dht: 'no new address' }])).toBe('tcp 127.0.0.1:4001: connection refused; DHT: no new address')
    expect(describeAttempts([])).toBe('no address to dial')
  })
})
