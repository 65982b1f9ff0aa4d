import { readFileSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { describe, it, expect } from 'vitest'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import type { PeerId } from '@libp2p/interface'
import {
  encodeConnectString, decodeConnectString, looksLikeConnectString, InvalidConnectStringError,
  CONNECT_STRING_PREFIX, CONNECT_STRING_VERSION, ACCESS_SECRET_LENGTH
} from '../../../../src/peer/discovery/connect-string.ts'

interface Vector {
  description: string
  seedHex: string
  peerId: string
  secretHex: string | null
  multiaddrs: string[]
  payloadHex: string
  text: string
}
const { vectors } = JSON.parse(readFileSync(new URL('../../../fixtures/connect-strings.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

async function newPeer (type: 'Ed25519' | 'secp256k1' = 'Ed25519'): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair(type))
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** `beam` + base32 of `body` and its CRC-32: reaches the checks behind the checksum. */
function withChecksum (body: number[] | Uint8Array): string {
  const sum = Buffer.alloc(4)
  sum.writeUInt32BE(crc32(Uint8Array.from(body)))
  return 'beam' + base32.baseEncode(Buffer.concat([Uint8Array.from(body), sum]))
}

/** Expect decoding `text` to fail with `reason`; returns the message. */
function rejects (text: string, reason: InvalidConnectStringError['reason']): string {
  try {
    decodeConnectString(text)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConnectStringError)
    expect(err).toMatchObject({ name: 'InvalidConnectStringError', reason })
    return (err as Error).message
  }
  throw new Error(`expected '${text.slice(0, 40)}…' to be rejected (${reason})`)
}

const SOME_ADDRS = [
  '/ip4/198.51.100.4/tcp/4001',
  '/ip4/198.51.100.4/udp/4001/quic-v1',
  '/ip6/2001:db8::42/tcp/4001',
  '/dns4/share.example.com/tcp/443',
  '/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4/p2p-circuit'
]

describe('connect string constants', () => {
  it('are the v1 values', () => {
    expect([CONNECT_STRING_PREFIX, CONNECT_STRING_VERSION, ACCESS_SECRET_LENGTH]).toEqual(['beam', 1, 32])
  })
})

describe('connect string golden vectors', () => {
  it('has vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4)
  })

  it.each(vectors)('$description', async (v) => {
    const peerId = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', Buffer.from(v.seedHex, 'hex')))
    expect(peerId.toString()).toBe(v.peerId)
    const secret = v.secretHex != null ? new Uint8Array(Buffer.from(v.secretHex, 'hex')) : undefined
    const cs = secret != null
      ? { peerId, multiaddrs: v.multiaddrs.map(a => multiaddr(a)), secret }
      : { peerId, multiaddrs: v.multiaddrs.map(a => multiaddr(a)) }

    expect(encodeConnectString(cs)).toBe(v.text)
    expect(hex(base32.baseDecode(v.text.slice(4)))).toBe(v.payloadHex)

    const back = decodeConnectString(v.text)
    expect(back.peerId.toString()).toBe(v.peerId)
    expect(back.multiaddrs.map(String)).toEqual(v.multiaddrs)
    expect(back.secret == null ? null : hex(back.secret)).toBe(v.secretHex)
  })
})

describe('connect string round trip', () => {
  it('without a secret and without addresses', async () => {
    const peerId = await newPeer()
    const back = decodeConnectString(encodeConnectString({ peerId, multiaddrs: [] }))
    expect(back.peerId.equals(peerId)).toBe(true)
    expect(back.multiaddrs).toEqual([])
    expect(back.secret).toBeUndefined()
  })

  it('with a secret and several kinds of address', async () => {
    const peerId = await newPeer()
    const secret = crypto.getRandomValues(new Uint8Array(32))
    const text = encodeConnectString({ peerId, multiaddrs: SOME_ADDRS.map(a => multiaddr(a)), secret })
    expect(text).toMatch(/^beam[a-z2-7]+$/)
    const back = decodeConnectString(text)
    expect(back.peerId.equals(peerId)).toBe(true)
    expect(back.multiaddrs.map(String)).toEqual(SOME_ADDRS)
    expect(back.secret).toEqual(secret)
  })

  it('without a secret and with addresses', async () => {
    const peerId = await newPeer()
    const back = decodeConnectString(encodeConnectString({ peerId, multiaddrs: SOME_ADDRS.map(a => multiaddr(a)) }))
    expect(back.multiaddrs.map(String)).toEqual(SOME_ADDRS)
    expect(back.secret).toBeUndefined()
  })

  it('with a secp256k1 peer id', async () => {
    const peerId = await newPeer('secp256k1')
    expect(decodeConnectString(encodeConnectString({ peerId, multiaddrs: [] })).peerId.equals(peerId)).toBe(true)
  })

  it('accepts upper case and surrounding white space', () => {
    const v = vectors[1]!
    expect(decodeConnectString(`  ${v.text.toUpperCase()}\r\n`).peerId.toString()).toBe(v.peerId)
    expect(decodeConnectString(`\t${v.text} `).multiaddrs.map(String)).toEqual(v.multiaddrs)
  })
})

describe('connect string encoder', () => {
  it('strips a trailing /p2p of the same peer, and only that', async () => {
    const peerId = await newPeer()
    const other = await newPeer()
    const text = encodeConnectString({
      peerId,
      multiaddrs: [
        multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${peerId.toString()}`),
        multiaddr(`/ip4/127.0.0.1/tcp/2/p2p/${other.toString()}/p2p-circuit/p2p/${peerId.toString()}`),
        multiaddr(`/ip4/127.0.0.1/tcp/3/p2p/${other.toString()}`)
      ]
    })
    expect(decodeConnectString(text).multiaddrs.map(String)).toEqual([
      '/ip4/127.0.0.1/tcp/1',
      `/ip4/127.0.0.1/tcp/2/p2p/${other.toString()}/p2p-circuit`,
      `/ip4/127.0.0.1/tcp/3/p2p/${other.toString()}`
    ])
  })

  it('keeps at most 32 addresses, in order, without duplicates', async () => {
    const peerId = await newPeer()
    const addrs = Array.from({ length: 40 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001`)
    const text = encodeConnectString({ peerId, multiaddrs: [addrs[0]!, ...addrs].map(a => multiaddr(a)) })
    expect(decodeConnectString(text).multiaddrs.map(String)).toEqual(addrs.slice(0, 32))
  })

  it('skips addresses over 512 bytes and stops before 4096 characters', async () => {
    const peerId = await newPeer()
    const long = multiaddr(`/dns4/${'a'.repeat(600)}/tcp/1`)
    const big = Array.from({ length: 32 }, (_, i) => multiaddr(`/dns4/${String(i).padStart(200, 'x')}.example/tcp/1`))
    const text = encodeConnectString({ peerId, multiaddrs: [multiaddr('/ip4/10.0.0.1/tcp/1'), long, ...big], secret: new Uint8Array(32) })
    expect(text.length).toBeLessThanOrEqual(4096)
    const back = decodeConnectString(text).multiaddrs.map(String)
    expect(back[0]).toBe('/ip4/10.0.0.1/tcp/1')
    expect(back.length).toBeGreaterThan(1)
    expect(back.length).toBeLessThan(33)
    expect(back.slice(1)).toEqual(big.slice(0, back.length - 1).map(String))
  })

  it('refuses a secret that is not 32 bytes', async () => {
    const peerId = await newPeer()
    expect(() => encodeConnectString({ peerId, multiaddrs: [], secret: new Uint8Array(16) })).toThrow(RangeError)
  })
})

describe('looksLikeConnectString', () => {
  it('tells connect strings from peer ids', async () => {
    for (const v of vectors) {
      expect(looksLikeConnectString(v.text)).toBe(true)
      expect(looksLikeConnectString(` ${v.text.toUpperCase()}\n`)).toBe(true)
      expect(looksLikeConnectString(v.peerId)).toBe(false)
    }
    expect(looksLikeConnectString((await newPeer('secp256k1')).toString())).toBe(false)
    expect(looksLikeConnectString('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBe(false)
    expect(looksLikeConnectString('beam')).toBe(false)
    expect(looksLikeConnectString('beamer')).toBe(false)
    expect(looksLikeConnectString('')).toBe(false)
  })
})

describe('connect string decoder rejects damage', async () => {
  const peerId = await newPeer()
  const id = [...peerId.toMultihash().bytes]
  const good = encodeConnectString({ peerId, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/1')], secret: new Uint8Array(32).fill(9) })
  const tcp = [...multiaddr('/ip4/127.0.0.1/tcp/1').bytes]

  it('wrong prefix', () => {
    rejects('xyz' + good.slice(4), 'prefix')
    rejects(peerId.toString(), 'prefix')
    rejects('', 'prefix')
  })

  it('characters outside base32', () => {
    for (const c of ['1', '0', '8', '=', '-', ' ']) {
      expect(rejects(good.slice(0, 20) + c + good.slice(21), 'encoding')).toContain('mistyped')
    }
  })

  it('base32 cut inside a group', () => {
    rejects(good.slice(0, good.length - 6), 'encoding')
    rejects(good.slice(0, good.length - 3), 'encoding')
  })

  it('any one character changed', () => {
    // every character but the last (whose low bits are padding) carries payload bits
    for (let i = 4; i < good.length - 1; i++) {
      const damaged = good.slice(0, i) + (good[i] === 'a' ? 'b' : 'a') + good.slice(i + 1)
      expect(rejects(damaged, 'checksum')).toBe('connect string checksum does not match (typo or truncated copy?)')
    }
  })

  it('a copy cut short at a base32 group boundary', () => {
    rejects(good.slice(0, good.length - 8), 'checksum')
  })

  it('unknown version', () => {
    expect(rejects(withChecksum([7, 0, id.length, ...id, 0]), 'version'))
      .toBe('connect string has an unknown version 7 (this beam understands version 1; upgrade beam?)')
    rejects(withChecksum([0, 0]), 'version')
  })

  it('unknown flags', () => {
    for (const flags of [0x02, 0x80, 0x81]) {
      rejects(withChecksum([1, flags, id.length, ...id, 0]), 'flags')
    }
  })

  it('truncated payload', () => {
    rejects(withChecksum([1]), 'truncated') // no flags byte
    rejects(withChecksum([1, 0]), 'truncated') // no peer id
    rejects(withChecksum([1, 0, id.length, ...id.slice(0, 10)]), 'truncated') // peer id cut
    rejects(withChecksum([1, 1, id.length, ...id, 9, 9, 9]), 'truncated') // secret cut
    rejects(withChecksum([1, 0, id.length, ...id]), 'truncated') // no address count
    rejects(withChecksum([1, 0, id.length, ...id, 2, tcp.length, ...tcp]), 'truncated') // second address missing
    rejects(withChecksum([1, 0, id.length, ...id, 1, tcp.length, ...tcp.slice(0, 3)]), 'truncated') // address cut
    rejects(withChecksum([1, 0, id.length, ...id, 0, 0]), 'truncated') // trailing byte
    rejects(withChecksum([1, 0, 0xff, 0xff, 0xff, 0xff, 0x7f]), 'truncated') // absurd length
    rejects('beamaaaa', 'truncated') // shorter than version, flags and checksum
    rejects('beam', 'truncated') // nothing after the prefix
  })

  it('garbage peer id', () => {
    rejects(withChecksum([1, 0, 3, 1, 2, 3, 0]), 'peer-id') // not a known multihash
    rejects(withChecksum([1, 0, 6, 0x00, 0x04, 1, 2, 3, 4, 0]), 'peer-id') // identity multihash of no key
    rejects(withChecksum([1, 0, 0, 0]), 'peer-id') // empty
  })

  it('bad address', () => {
    rejects(withChecksum([1, 0, id.length, ...id, 1, 3, 0xff, 0xff, 0xff]), 'multiaddr') // unknown protocol
    rejects(withChecksum([1, 0, id.length, ...id, 1, 3, 0x04, 127, 0]), 'multiaddr') // ip4 cut short
    rejects(withChecksum([1, 0, id.length, ...id, 1, 0]), 'multiaddr') // empty address
    rejects(withChecksum([1, 0, id.length, ...id, 33]), 'multiaddr') // more than 32 addresses
    rejects(withChecksum([1, 0, id.length, ...id, 1, 0x81, 0x04, ...new Array<number>(513).fill(0)]), 'multiaddr') // 513 bytes
  })

  it('too long', () => {
    rejects('beam' + 'a'.repeat(5000), 'too-long')
    rejects('beam' + 'a'.repeat(4093), 'too-long')
  })
})
