import { describe, it, expect } from 'vitest'
import {
  encodeRequest, decodeRequest, encodeResponse, decodeResponse, accessProof, verifyAccessProof,
  AccessProofCache, TunnelStatus, HANDSHAKE_VERSION, PROOF_LENGTH
} from '../../../src/signaling/index.ts'

const proof = new Uint8Array(PROOF_LENGTH).fill(7)

describe('tunnel request codec', () => {
  it('round-trips with and without proof, probe or not', () => {
    for (const req of [{ port: 0, probe: false }, { port: 3000, probe: true }, { port: 65535, probe: false, proof }]) {
      expect(decodeRequest(encodeRequest(req))).toEqual(req)
    }
  })

  it('carries the udp flag (0x02) beside probe, and nothing else', () => {
    expect(encodeRequest({ port: 53, probe: false, udp: true })[1]).toBe(0x02)
    expect(encodeRequest({ port: 53, probe: true, udp: true })[1]).toBe(0x03)
    expect(decodeRequest(encodeRequest({ port: 53, probe: true, udp: true }))).toEqual({ port: 53, probe: true, udp: true })
    expect(decodeRequest(new Uint8Array([1, 0x02, 0, 53, 0]))).toEqual({ port: 53, probe: false, udp: true })
    expect(() => decodeRequest(new Uint8Array([1, 0x04, 0, 0, 0]))).toThrow(/unknown request flags/)
  })
  it('has the documented wire layout', () => {
    expect(Buffer.from(encodeRequest({ port: 0x1234, probe: true })).toString('hex')).toBe('0101123400')
    const withProof = encodeRequest({ port: 80, probe: false, proof })
    expect(withProof.length).toBe(5 + 32)
    expect(Array.from(withProof.subarray(0, 5))).toEqual([HANDSHAKE_VERSION, 0, 0, 80, 32])
  })

  it('rejects bad input with named errors', () => {
    expect(() => decodeRequest(new Uint8Array([]))).toThrow(expect.objectContaining({ name: 'HandshakeError' }))
    expect(() => decodeRequest(new Uint8Array([2, 0, 0, 0, 0]))).toThrow(expect.objectContaining({ name: 'UnsupportedVersionError', version: 2 }))
    expect(() => decodeRequest(new Uint8Array([1, 0, 0]))).toThrow(expect.objectContaining({ name: 'HandshakeError' }))
    expect(() => decodeRequest(new Uint8Array([1, 0x80, 0, 0, 0]))).toThrow(/unknown request flags/)
    expect(() => decodeRequest(new Uint8Array([1, 0, 0, 0, 5, 1, 2, 3, 4, 5]))).toThrow(/proof length/)
    expect(() => decodeRequest(new Uint8Array([1, 0, 0, 0, 0, 9]))).toThrow(/wrong length/)
    expect(() => encodeRequest({ port: 70000, probe: false })).toThrow(/out of range/)
    expect(() => encodeRequest({ port: 1, probe: false, proof: new Uint8Array(3) })).toThrow(/32 bytes/)
  })
})

describe('tunnel response codec', () => {
  it('round-trips every status', () => {
    for (const status of Object.values(TunnelStatus)) {
      expect(decodeResponse(encodeResponse({ status, reason: `reason ${status} ✓` }))).toEqual({ status, reason: `reason ${status} ✓` })
    }
  })

  it('truncates long reasons and rejects unknown statuses and versions', () => {
    expect(decodeResponse(encodeResponse({ status: TunnelStatus.OK, reason: 'x'.repeat(2000) })).reason.length).toBe(512)
    expect(() => decodeResponse(new Uint8Array([1, 99]))).toThrow(/unknown tunnel status/)
    expect(() => decodeResponse(new Uint8Array([9, 0]))).toThrow(expect.objectContaining({ name: 'UnsupportedVersionError' }))
    expect(() => decodeResponse(new Uint8Array([1]))).toThrow(/truncated/)
  })
})

describe('access proof', () => {
  const secret = new Uint8Array(32).fill(1)
  const a = new Uint8Array([1, 2, 3])
  const b = new Uint8Array([4, 5, 6])

  it('verifies the right secret for the right pair of peers only', () => {
    const p = accessProof(secret, a, b)
    expect(p.length).toBe(32)
    expect(verifyAccessProof(secret, a, b, p)).toBe(true)
    expect(verifyAccessProof(secret, b, a, p)).toBe(false)
    expect(verifyAccessProof(new Uint8Array(32).fill(2), a, b, p)).toBe(false)
    expect(verifyAccessProof(secret, a, b, undefined)).toBe(false)
    expect(verifyAccessProof(secret, a, b, p.subarray(0, 31))).toBe(false)
  })

  it('AccessProofCache: same answers as verifyAccessProof, per connector, with a full cache, and its own copy of the secret', () => {
    const peer = (bytes: Uint8Array): { toString: () => string, toMultihash: () => { bytes: Uint8Array } } =>
      ({ toString: () => Buffer.from(bytes).toString('hex'), toMultihash: () => ({ bytes }) })
    const c = new Uint8Array([7, 8, 9])
    const mine = new Uint8Array(secret)
    const cache = new AccessProofCache(mine, b, 2)
    // the share's secret is fixed when it starts: a later rewrite of the caller's array changes nothing
    mine.fill(3)
    for (let round = 0; round < 2; round++) {
      expect(cache.verify(peer(a), accessProof(secret, a, b))).toBe(true)
      expect(cache.verify(peer(c), accessProof(secret, c, b))).toBe(true)
      // a's proof presented by c, a proof for another share or another secret, a short one, none
      expect(cache.verify(peer(c), accessProof(secret, a, b))).toBe(false)
      expect(cache.verify(peer(a), accessProof(secret, a, c))).toBe(false)
      expect(cache.verify(peer(a), accessProof(new Uint8Array(32).fill(2), a, b))).toBe(false)
      expect(cache.verify(peer(a), accessProof(secret, a, b).subarray(0, 31))).toBe(false)
      expect(cache.verify(peer(a), undefined)).toBe(false)
      // a third connector past maxEntries (2) starts the cache over, answers stay right
      const d = new Uint8Array([10])
      expect(cache.verify(peer(d), accessProof(secret, d, b))).toBe(true)
    }
  })

  it('matches the documented construction (vector computed independently)', () => {
    expect(Buffer.from(accessProof(secret, a, b)).toString('hex')).toBe('d94b8a018d2acfdba40ee46d2ef8de9609d8db6865937e76dd51a6411f83fbda')
  })
})
