import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import { crc32 } from 'node:zlib'
import { encodeConnectString, decodeConnectString, looksLikeConnectString } from '../../src/peer/connect-string.ts'
import { parseTarget } from '../../src/peer/target.ts'

interface Vector { description: string, seedByte: number, peerId: string, secretHex: string | null, multiaddrs: string[], text: string }
const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/connect-strings.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

async function peer (): Promise<ReturnType<typeof peerIdFromPrivateKey>> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Re-encode a payload with a valid checksum, to reach the checks behind it. */
function withChecksum (body: Uint8Array): string {
  const sum = Buffer.alloc(4)
  sum.writeUInt32BE(crc32(body) >>> 0)
  return 'beam' + base32.baseEncode(Buffer.concat([body, sum]))
}

function payload (text: string): Uint8Array {
  const bytes = base32.baseDecode(text.slice(4))
  return bytes.subarray(0, bytes.length - 4)
}

describe('connect string golden vectors', () => {
  it.each(vectors)('$description', async (v) => {
    const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(v.seedByte))
    const peerId = peerIdFromPrivateKey(key)
    expect(peerId.toString()).toBe(v.peerId)
    const cs = { peerId, multiaddrs: v.multiaddrs.map(a => multiaddr(a)), ...(v.secretHex != null ? { secret: new Uint8Array(Buffer.from(v.secretHex, 'hex')) } : {}) }
    expect(encodeConnectString(cs)).toBe(v.text)
    const back = decodeConnectString(v.text)
    expect(back.peerId.toString()).toBe(v.peerId)
    expect(back.multiaddrs.map(String)).toEqual(v.multiaddrs)
    expect(back.secret == null ? null : Buffer.from(back.secret).toString('hex')).toBe(v.secretHex)
  })
})

describe('connect string codec', () => {
  it('round-trips and strips a /p2p suffix of the same peer', async () => {
    const peerId = await peer()
    const text = encodeConnectString({ peerId, multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${peerId.toString()}`)] })
    expect(decodeConnectString(text).multiaddrs.map(String)).toEqual(['/ip4/127.0.0.1/tcp/1'])
    expect(decodeConnectString(`  ${text.toUpperCase()}\n`).peerId.equals(peerId)).toBe(true)
  })

  it('tells connect strings from peer ids', async () => {
    const peerId = await peer()
    expect(looksLikeConnectString(encodeConnectString({ peerId, multiaddrs: [] }))).toBe(true)
    expect(looksLikeConnectString(peerId.toString())).toBe(false)
    expect(parseTarget(peerId.toString()).multiaddrs).toEqual([])
    expect(() => parseTarget('hello')).toThrow(expect.objectContaining({ name: 'InvalidTargetError' }))
  })

  const bad = (text: string, reason: string): void => {
    expect(() => decodeConnectString(text)).toThrow(expect.objectContaining({ name: 'InvalidConnectStringError', reason }))
  }

  it('rejects every kind of damage with its reason', async () => {
    const peerId = await peer()
    const good = encodeConnectString({ peerId, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/1')], secret: new Uint8Array(32).fill(9) })
    bad('xyz' + good.slice(4), 'prefix')
    bad(good.slice(0, 20) + '1' + good.slice(21), 'encoding')
    bad('beam' + 'a'.repeat(5000), 'too-long')
    // one character changed in the middle: the checksum catches it
    const mid = 40
    bad(good.slice(0, mid) + (good[mid] === 'a' ? 'b' : 'a') + good.slice(mid + 1), 'checksum')
    bad(good.slice(0, good.length - 8), 'checksum') // 8 chars = 5 bytes: still valid base32
    bad(good.slice(0, good.length - 6), 'encoding') // cut inside a base32 group
    const body = payload(good)
    bad(withChecksum(Uint8Array.from([7, ...body.subarray(1)])), 'version')
    bad(withChecksum(Uint8Array.from([1, 0x81, ...body.subarray(2)])), 'flags')
    bad(withChecksum(body.subarray(0, 10)), 'truncated')
    bad(withChecksum(Uint8Array.from([1, 0, 3, 1, 2, 3, 0])), 'peer-id')
    // a valid peer id, then one address of garbage bytes
    const idBytes = peerId.toMultihash().bytes
    bad(withChecksum(Uint8Array.from([1, 0, idBytes.length, ...idBytes, 1, 3, 0xff, 0xff, 0xff])), 'multiaddr')
    bad(withChecksum(Uint8Array.from([1, 0, idBytes.length, ...idBytes, 0, 0])), 'truncated')
  })

  it('has a helpful message for the user', () => {
    expect(() => decodeConnectString('beam' + vectors[0]!.text.slice(4, 30))).toThrow(/checksum|truncated/)
  })
})
