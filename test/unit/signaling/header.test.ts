import { describe, expect, it } from 'vitest'
import { decodePunchMessage, decodeRequest, decodeResponse, decodeReversalRequest, decodeReversalResponse } from '../../../src/signaling/index.ts'

// Every signalling decoder starts with the same header check (signaling/header.ts):
// its messages name the message, and a wrong version is an UnsupportedVersionError.
describe('the header of every signalling message', () => {
  const decoders: Array<[string, (b: Uint8Array) => unknown, number]> = [
    ['tunnel request', decodeRequest, 5],
    ['tunnel response', decodeResponse, 2],
    ['reversal request', decodeReversalRequest, 3],
    ['reversal response', decodeReversalResponse, 2],
    ['punch message', decodePunchMessage, 2]
  ]
  for (const [what, decode, min] of decoders) {
    it(`${what}: empty, another version, shorter than ${min} bytes`, () => {
      expect(() => decode(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'HandshakeError', message: `empty ${what}` }))
      expect(() => decode(new Uint8Array([7, 0, 0, 0, 0, 0]))).toThrow(expect.objectContaining({ name: 'UnsupportedVersionError', version: 7 }))
      expect(() => decode(new Uint8Array(min - 1).fill(1, 0, 1))).toThrow(expect.objectContaining({ name: 'HandshakeError', message: `truncated ${what}` }))
    })
  }
})
