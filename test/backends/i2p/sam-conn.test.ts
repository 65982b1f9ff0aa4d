/**
 * The I2P backend's pieces that need no router: SAM reply parsing, I2P
 * addresses, options, and the end-of-data handshake of its connections, run
 * over real TCP sockets on 127.0.0.1 (a SAM stream socket is a plain TCP
 * socket once its handshake lines are done).
 */
import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/peer/index.ts'
import { b32Of, i2pBackend, publicOfPrivate, TRANSIENT_DESTINATION } from '../../../src/backends/i2p/index.ts'
import { fromI2pBase64, parseB32, parseDestination, toI2pBase64 } from '../../../src/backends/i2p/destination.ts'
import { parseI2pMultiaddr } from '../../../src/backends/i2p/multiaddr.ts'
import { resolveOptions } from '../../../src/backends/i2p/options.ts'
import { toSamConnection } from '../../../src/backends/i2p/sam-conn.ts'
import { parseReply } from '../../../src/backends/i2p/sam-socket.ts'

const log: Logger = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log })

/** A destination as a router makes them: 387 bytes with a key certificate (type 5, 4 bytes: Ed25519 + ElGamal). */
function fakeDestination (): string {
  const b = randomBytes(391)
  b[384] = 5
  b[385] = 0
  b[386] = 4
  return toI2pBase64(b)
}

describe('SAM replies and I2P addresses', () => {
  it('parses reply lines with quoted values', () => {
    const r = parseReply('SESSION STATUS RESULT=I2P_ERROR MESSAGE="Duplicate destination here"')
    expect(r.topic).toBe('SESSION STATUS')
    expect(r.params).toEqual({ RESULT: 'I2P_ERROR', MESSAGE: 'Duplicate destination here' })
    expect(parseReply('HELLO REPLY RESULT=OK VERSION=3.1').params.VERSION).toBe('3.1')
    expect(parseReply('NAMING REPLY RESULT=OK NAME=ME VALUE=ab~c-d==').params.VALUE).toBe('ab~c-d==')
  })

  it('round-trips I2P base64, derives b32 names and the public part of a private key', () => {
    const dest = fakeDestination()
    expect(toI2pBase64(fromI2pBase64(dest))).toBe(dest)
    expect(parseDestination(dest)).toBe(dest)
    const priv = toI2pBase64(Buffer.concat([fromI2pBase64(dest), randomBytes(256 + 32)]))
    expect(publicOfPrivate(priv)).toBe(dest)
    const b32 = b32Of(dest)
    expect(b32).toMatch(/^[a-z2-7]{52}\.b32\.i2p$/)
    const expected = createHash('sha256').update(fromI2pBase64(dest)).digest()
    // base32 decode by hand to check the encoder
    const bare = b32.slice(0, 52)
    let bits = 0
    let value = 0
    const out: number[] = []
    for (const ch of bare) {
      value = (value << 5) | 'abcdefghijklmnopqrstuvwxyz234567'.indexOf(ch)
      bits += 5
      if (bits >= 8) {
        out.push((value >>> (bits - 8)) & 0xff)
        bits -= 8
      }
    }
    expect(Buffer.from(out)).toEqual(expected)
    expect(parseB32(b32.toUpperCase())).toBe(bare)
  })

  it('rejects what is not I2P with named errors', () => {
    expect(() => parseDestination('AAAA')).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
    expect(() => parseDestination('not base64!')).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
    expect(() => parseB32('abc.b32.i2p')).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
    expect(() => parseI2pMultiaddr(multiaddr('/ip4/127.0.0.1/tcp/1'))).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
    expect(() => resolveOptions({ sam: 'localhost' })).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
    expect(() => resolveOptions({ tunnels: { inboundLength: 9 } })).toThrow(expect.objectContaining({ name: 'I2pAddressError' }))
  })

  it('reads garlic64 and garlic32 multiaddrs, with or without /p2p', () => {
    const dest = fakeDestination()
    expect(parseI2pMultiaddr(multiaddr(`/garlic64/${dest}`))).toEqual({ kind: 'garlic64', destination: dest })
    const b32 = b32Of(dest).slice(0, 52)
    expect(parseI2pMultiaddr(multiaddr(`/garlic32/${b32}/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp`))).toEqual({ kind: 'garlic32', b32 })
  })

  it('describes itself as a backend with defaults', () => {
    const b = i2pBackend()
    expect(b.name).toBe('i2p')
    expect(b.addressProtocols).toEqual(['garlic64', 'garlic32'])
    expect(b.listenAddrs?.()).toEqual([`/garlic64/${TRANSIENT_DESTINATION}`])
    expect(resolveOptions().sam).toEqual({ host: '127.0.0.1', port: 7656 })
    expect(typeof b.transport?.({ log: silentLogger() })).toBe('function')
  })
})

describe('end-of-data handshake over real sockets', () => {
  let server: Server | undefined
  afterEach(() => { server?.close() })

  async function socketPair (): Promise<[Socket, Socket]> {
    const accepted = new Promise<Socket>(resolve => {
      server = createServer(resolve)
    })
    await new Promise<void>(resolve => server?.listen(0, '127.0.0.1', resolve))
    const port = (server?.address() as { port: number }).port
    const client = connect({ host: '127.0.0.1', port })
    await new Promise<void>(resolve => client.once('connect', () => { resolve() }))
    return [client, await accepted]
  }

  function conn (socket: Socket, direction: 'inbound' | 'outbound'): ReturnType<typeof toSamConnection> {
    return toSamConnection({ socket, direction, remoteAddr: multiaddr(`/garlic64/${TRANSIENT_DESTINATION}`), log, closeTimeoutMs: 10_000 })
  }

  it('a send followed at once by close arrives whole, and both ends close cleanly', async () => {
    const [a, b] = await socketPair()
    const sender = conn(a, 'outbound')
    const receiver = conn(b, 'inbound')
    const h = createHash('sha256')
    let bytes = 0
    receiver.addEventListener('message', (evt) => {
      const d = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      h.update(d)
      bytes += d.byteLength
    })
    const receiverClosed = new Promise<Error | undefined>(resolve => { receiver.addEventListener('close', (evt) => { resolve(evt.error) }, { once: true }) })
    const data = randomBytes(3 * 1024 * 1024 + 17)
    for (let i = 0; i < data.length; i += 100_000) {
      if (!sender.send(data.subarray(i, i + 100_000))) await sender.onDrain()
    }
    await sender.close()
    expect(await receiverClosed).toBeUndefined()
    expect(bytes).toBe(data.length)
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    expect(sender.status).toBe('closed')
  })

  it('a stream that ends without end-of-data is reported as cut', async () => {
    const [a, b] = await socketPair()
    const receiver = conn(b, 'inbound')
    const closed = new Promise<Error | undefined>(resolve => { receiver.addEventListener('close', (evt) => { resolve(evt.error) }, { once: true }) })
    // a DATA frame of 10 bytes, then the far side just goes away
    a.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 10]), randomBytes(10)]))
    a.end()
    const err = await closed
    expect(err?.name).toBe('I2pStreamCutError')
  })
})
