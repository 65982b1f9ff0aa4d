import { describe, it, expect } from 'vitest'
import { HANDSHAKE_VERSION, PROOF_LENGTH, PUNCH_TOKEN_BYTES, PunchNat, PunchStatus, decodePunchMessage, encodePunchMessage, isPunchTarget, punchRoles } from '../../../src/signaling/index.ts'
import type { PunchMessage } from '../../../src/signaling/index.ts'

const token = new Uint8Array(PUNCH_TOKEN_BYTES).fill(3)
const proof = new Uint8Array(PROOF_LENGTH).fill(7)

describe('punch coordination codec (/beam/punch/1.0.0)', () => {
  it('round-trips every message', () => {
    const messages: PunchMessage[] = [
      { type: 'offer', token, nat: PunchNat.EASY, mapping: { ip: '8.8.4.4', port: 40000 } },
      { type: 'offer', proof, token, nat: PunchNat.HARD },
      { type: 'answer', status: PunchStatus.ACCEPTED, nat: PunchNat.HARD },
      { type: 'answer', status: PunchStatus.ACCEPTED, nat: PunchNat.EASY, mapping: { ip: '1.2.3.4', port: 65535 } },
      { type: 'go', ip: '203.0.114.9', hint: { before: 20000, after: 20257 } },
      { type: 'go', ip: '9.9.9.9' },
      { type: 'done', ok: true, port: 41107 },
      { type: 'done', ok: false, port: 0 }
    ]
    for (const m of messages) expect(decodePunchMessage(encodePunchMessage(m))).toEqual(m)
  })

  it('has the documented wire layout and small messages', () => {
    const offer = encodePunchMessage({ type: 'offer', token, nat: PunchNat.EASY, mapping: { ip: '8.8.4.4', port: 0x9c40 } })
    expect(Array.from(offer.subarray(0, 3))).toEqual([HANDSHAKE_VERSION, 1, 0])
    expect(Array.from(offer.subarray(-7))).toEqual([PunchNat.EASY, 8, 8, 4, 4, 0x9c, 0x40])
    expect(offer.length).toBe(2 + 1 + 16 + 1 + 6)
    expect(Array.from(encodePunchMessage({ type: 'go', ip: '9.9.9.9', hint: { before: 1, after: 258 } }))).toEqual([1, 3, 9, 9, 9, 9, 1, 0, 1, 1, 2])
  })

  it('rejects bad input with named errors', () => {
    expect(() => decodePunchMessage(new Uint8Array([]))).toThrow(expect.objectContaining({ name: 'HandshakeError' }))
    expect(() => decodePunchMessage(new Uint8Array([2, 1]))).toThrow(expect.objectContaining({ name: 'UnsupportedVersionError' }))
    expect(() => decodePunchMessage(new Uint8Array([1, 9]))).toThrow(/unknown punch message type/)
    expect(() => decodePunchMessage(new Uint8Array([1, 4, 1, 0]))).toThrow(/wrong length/)
    expect(() => decodePunchMessage(new Uint8Array([1, 4, 2, 0, 1]))).toThrow(/outcome/)
    expect(() => decodePunchMessage(new Uint8Array([1, 2, 99, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/unknown punch status/)
    expect(() => decodePunchMessage(new Uint8Array([1, 2, 0, 7, 0, 0, 0, 0, 0, 0]))).toThrow(/unknown NAT kind/)
    expect(() => decodePunchMessage(new Uint8Array([1, 1, 5]))).toThrow(/proof length/)
    expect(() => decodePunchMessage(new Uint8Array([1, 3, 9, 9, 9, 9, 2, 0, 0, 0, 0]))).toThrow(/hint flag/)
    // a mapping with an address but port 0 is no mapping a socket can have
    expect(() => decodePunchMessage(new Uint8Array([1, 2, 0, 0, 1, 2, 3, 4, 0, 0]))).toThrow(/bad punch port/)
    expect(() => encodePunchMessage({ type: 'offer', token: token.subarray(1), nat: PunchNat.EASY })).toThrow(/token/)
    expect(() => encodePunchMessage({ type: 'answer', status: PunchStatus.ACCEPTED, nat: PunchNat.EASY, mapping: { ip: '::1', port: 1 } })).toThrow(/IPv4/)
  })

  it('gives the roles from the two NAT kinds', () => {
    expect(punchRoles(PunchNat.EASY, PunchNat.HARD)).toEqual({ easy: 'connector' })
    expect(punchRoles(PunchNat.HARD, PunchNat.EASY)).toEqual({ easy: 'share' })
    expect(punchRoles(PunchNat.EASY, PunchNat.EASY)).toBe('not-needed')
    expect(punchRoles(PunchNat.HARD, PunchNat.HARD)).toBe('unsupported')
    expect(punchRoles(PunchNat.UNKNOWN, PunchNat.EASY)).toBe('unsupported')
  })

  it('lets probes go only to public IPv4 addresses', () => {
    expect(isPunchTarget('8.8.4.4')).toBe(true)
    for (const ip of ['10.0.0.1', '192.168.1.1', '172.16.0.1', '127.0.0.1', '169.254.1.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '100.64.0.1', '::1', 'example.com']) {
      expect(isPunchTarget(ip), ip).toBe(false)
    }
  })
})
