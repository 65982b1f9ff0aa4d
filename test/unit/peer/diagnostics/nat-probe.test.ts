import { describe, expect, it } from 'vitest'
import { bindingResponse, startStunServer } from '../../../../src/relay/index.ts'
import { answeredBy, bindingRequest, classifyMapping, parseBindingSuccess, probeNat, stunTargets } from '../../../../src/peer/diagnostics/nat-probe.ts'

const TX = Buffer.from('00112233445566778899aabb', 'hex')

describe('NAT probe', () => {
  it('reads the mapped address from a Binding success response (beam relay\'s own encoder)', () => {
    expect(bindingRequest(TX).length).toBe(20)
    const res = bindingResponse({ transactionId: TX }, '198.51.100.13', 40123)
    expect(parseBindingSuccess(res, TX)).toEqual({ address: '198.51.100.13', port: 40123 })
    // another transaction's answer is not ours
    expect(parseBindingSuccess(res, Buffer.alloc(12))).toBeUndefined()
    expect(parseBindingSuccess(Buffer.alloc(10), TX)).toBeUndefined()
  })

  it('keeps only stun: URLs, defaulting the port to 3478', () => {
    expect(stunTargets(['stun:198.51.100.11:3478', 'turn:u:p@198.51.100.12:3479', 'stun:198.51.100.12', 'stun:198.51.100.11:3478'])).toEqual(['198.51.100.11:3478', '198.51.100.12:3478'])
  })

  it('classifies mapping behaviour from what servers saw', () => {
    const a = (address: string, port: number): { server: string, mapped: { address: string, port: number } } => ({ server: 's', mapped: { address, port } })
    expect(classifyMapping([], [])).toBe('udp-blocked')
    expect(classifyMapping([{ server: 's', error: 'x' }], [])).toBe('udp-blocked')
    expect(classifyMapping([a('198.51.100.13', 5000)], ['198.51.100.13'])).toBe('none')
    expect(classifyMapping([a('198.51.100.13', 5000)], ['10.0.0.2'])).toBe('unknown')
    expect(classifyMapping([a('198.51.100.13', 5000), a('198.51.100.13', 5000)], ['10.0.0.2'])).toBe('endpoint-independent')
    expect(classifyMapping([a('198.51.100.13', 5000), a('198.51.100.13', 5001)], ['10.0.0.2'])).toBe('symmetric')
  })

  it('asks a STUN server named by host name at the address the resolver gives, and names it in the report', async () => {
    // a real STUN responder on loopback; the name is resolved by the test, never by DNS
    const stun = await startStunServer({ host: '127.0.0.1', port: 0 })
    const asked: string[] = []
    try {
      const report = await probeNat({
        servers: [`stun.example.test:${stun.port}`, 'nowhere.example.test:3478'],
        timeout: 500,
        attempts: 2,
        resolve: async host => {
          asked.push(host)
          if (host === 'stun.example.test') return '127.0.0.1'
          throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' })
        }
      })
      expect(asked).toEqual(['stun.example.test', 'nowhere.example.test'])
      expect(report.answers[0]).toMatchObject({ server: `stun.example.test:${stun.port}`, address: '127.0.0.1', mapped: { address: '127.0.0.1' } })
      expect(report.answers[1]).toMatchObject({ server: 'nowhere.example.test:3478', error: 'cannot resolve nowhere.example.test (ENOTFOUND)' })
      expect(answeredBy(report)).toEqual([`stun.example.test:${stun.port}`])
    } finally {
      await stun.close()
    }
  })
})
