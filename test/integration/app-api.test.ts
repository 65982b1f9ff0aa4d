/**
 * The embedding API (issue 7), driven only through the package's public
 * exports: several nodes in one process on loopback, a small DHT of server
 * nodes, and a relay. Streams with backpressure, messages, calls (timeouts,
 * aborts, errors), signed DHT records (put, get, update, expiry, forgery).
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createBeam, MessageTooLargeError, RecordNotFoundError, RemoteCallError, recordKey, signRecord, validateRecord } from 'beam'
import type { BeamNode } from 'beam'
import { waitUntil } from '../helpers/wait.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const nodes: BeamNode[] = []
let servers: BeamNode[] = []
let a: BeamNode
let b: BeamNode
let c: BeamNode

async function node (init: Parameters<typeof createBeam>[0]): Promise<BeamNode> {
  const n = await createBeam({ transports: { webrtc: false }, ...init })
  nodes.push(n)
  return n
}

const addrOf = (n: BeamNode): string => `${n.getMultiaddrs()[0]?.toString() ?? ''}/p2p/${n.peerId.toString()}`

beforeAll(async () => {
  const s1 = await node({ listen: LISTEN, dht: { server: true } })
  const s2 = await node({ listen: LISTEN, dht: { server: true }, bootstrap: [multiaddr(addrOf(s1))] })
  const s3 = await node({ listen: LISTEN, dht: { server: true }, bootstrap: [multiaddr(addrOf(s1)), multiaddr(addrOf(s2))] })
  servers = [s1, s2, s3]
  const boot = servers.map(s => multiaddr(addrOf(s)))
  a = await node({ listen: LISTEN, bootstrap: boot })
  b = await node({ listen: LISTEN, bootstrap: boot })
  c = await node({ listen: LISTEN, bootstrap: boot })
  // a and b know each other's addresses the way an app would: a connect string
  await a.libp2p.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
  await b.libp2p.peerStore.merge(a.peerId, { multiaddrs: a.getMultiaddrs() })
  await c.libp2p.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
  // the DHT tests need each client to know the servers as DHT servers (identified)
  await waitUntil('a, b and c to identify the DHT servers', async () => {
    for (const n of [a, b, c]) {
      for (const srv of servers) {
        const known = await n.libp2p.peerStore.get(srv.peerId).catch(() => undefined)
        if (known?.protocols.includes('/ipfs/kad/1.0.0') !== true) return false
      }
    }
    return true
  })
}, 60_000)

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

/** The seq of the valid record each node holds for `key` in its own DHT store (no query), or null. */
async function storedOn (list: BeamNode[], key: Uint8Array): Promise<Array<number | null>> {
  return await Promise.all(list.map(async n => {
    const dht = n.libp2p.services.dht as { contentFetching: { getLocal: (k: Uint8Array) => Promise<{ value: Uint8Array }> } }
    const rec = await dht.contentFetching.getLocal(key).catch(() => null)
    return rec == null ? null : (await validateRecord(key, rec.value)).seq
  }))
}

async function readAll (d: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of d) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

describe('streams: node.handle / node.open', () => {
  it('echoes 16 MiB through a Duplex with backpressure and half-close', async () => {
    await b.handle('/test/echo/1.0.0', (stream) => { stream.pipe(stream) })
    const stream = await a.open(b.peerId.toString(), '/test/echo/1.0.0')
    const data = randomBytes(16 * 1024 * 1024)
    const back = readAll(stream)
    stream.end(data)
    const got = await back
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
  }, 60_000)

  it('tells the handler who is calling (the authenticated peer id)', async () => {
    let seen = ''
    await b.handle('/test/whoami/1.0.0', (stream, from) => { seen = from.peerId.toString(); stream.end(from.peerId.toString()) })
    const s = await a.open(b.peerId.toString(), '/test/whoami/1.0.0')
    s.end()
    expect((await readAll(s)).toString()).toBe(a.peerId.toString())
    expect(seen).toBe(a.peerId.toString())
  })

  it('a slow reader holds the writer back: writes go through until the windows fill, then stop until the reader reads', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    let released = false
    let received = 0
    const handlerDone = Promise.withResolvers<void>()
    await b.handle('/test/slow/1.0.0', async (stream) => {
      await gate
      for await (const chunk of stream) received += (chunk as Buffer).length
      stream.end()
      handlerDone.resolve()
    })
    const s = await a.open(b.peerId.toString(), '/test/slow/1.0.0')
    // chunks below the Duplex's 16 KiB high-water mark: write() says stop
    // only once the stream holds data back, not because one chunk is big
    const chunk = Buffer.alloc(4 * 1024, 7)
    expect(chunk.length).toBeLessThan(s.writableHighWaterMark)
    /** A drain within `ms`, or none. */
    const drainWithin = async (ms: number): Promise<boolean> => await new Promise(resolve => {
      const t = setTimeout(() => { s.off('drain', onDrain); resolve(false) }, ms)
      const onDrain = (): void => { clearTimeout(t); resolve(true) }
      s.once('drain', onDrain)
    })
    let written = 0
    let writesBeforeFirstStop = 0
    let stops = 0
    let stalled = false
    // the reader is not reading: write (waiting for 'drain' when told to)
    // until no drain comes for a second, i.e. every window and buffer
    // between the two apps is full; 256 MiB or 20 s would mean nothing holds back
    const QUIET_MS = 1000
    const until = Date.now() + 20_000
    while (written < 256 * 1024 * 1024 && Date.now() < until) {
      written += chunk.length
      if (s.write(chunk)) continue
      if (stops++ === 0) writesBeforeFirstStop = written / chunk.length
      if (!await drainWithin(QUIET_MS)) { stalled = true; break }
    }
    const heldBack = written
    console.log(`app-api backpressure: ${writesBeforeFirstStop} writes of 4 KiB before the first stop, ${heldBack} bytes written when the writer ${stalled ? 'stalled' : 'gave up'} (${stops} stops)`)
    expect(stalled).toBe(true)
    expect(received).toBe(0)
    // not stopped at once: the first stop comes once the stream's send window is used
    expect(writesBeforeFirstStop).toBeGreaterThan(1)
    // held back: at least yamux's initial 256 KiB stream window, which the
    // muxer grants before any update; at most what the windows (16 MiB max)
    // and the reader's buffers (32 MiB) allow, far below 256 MiB
    expect(heldBack).toBeGreaterThanOrEqual(256 * 1024)
    expect(heldBack).toBeLessThan(64 * 1024 * 1024)
    // the drain comes once the reader reads, not before
    const drained = new Promise<boolean>(resolve => { s.once('drain', () => { resolve(released) }) })
    released = true
    release()
    const afterRelease = await Promise.race([drained, new Promise<string>(resolve => setTimeout(() => { resolve('no drain within 30 s of the reader reading') }, 30_000))])
    expect(afterRelease).toBe(true)
    s.end()
    await once(s, 'finish')
    s.resume()
    await once(s, 'end')
    await handlerDone.promise
    expect(received).toBe(written)
  }, 60_000)
})

describe('messages and calls', () => {
  it('send: the handler gets the bytes and the sender', async () => {
    const got = new Promise<{ data: string, from: string }>(resolve => {
      void b.onMessage((data, from) => { resolve({ data: Buffer.from(data).toString(), from: from.peerId.toString() }) })
    })
    await a.send(b.peerId.toString(), Buffer.from('hello b'))
    expect(await got).toEqual({ data: 'hello b', from: a.peerId.toString() })
  })

  it('call: request → reply; handler errors and "no handler" are RemoteCallError; size limits; timeouts and aborts', async () => {
    await b.onCall(async (req) => {
      const text = Buffer.from(req).toString()
      if (text === 'fail') throw new Error('no such thing')
      if (text === 'slow') await new Promise(resolve => setTimeout(resolve, 2000))
      return Buffer.from(text.split('').reverse().join(''))
    })
    expect(Buffer.from(await a.call(b.peerId.toString(), Buffer.from('abc'))).toString()).toBe('cba')
    await expect(a.call(b.peerId.toString(), Buffer.from('fail'))).rejects.toThrow(RemoteCallError)
    await expect(a.call(b.peerId.toString(), Buffer.from('fail'))).rejects.toThrow(/no such thing/)
    await expect(a.call(b.peerId.toString(), new Uint8Array(33 * 1024))).rejects.toThrow(MessageTooLargeError)
    const t0 = Date.now()
    await expect(a.call(b.peerId.toString(), Buffer.from('slow'), { timeout: 300 })).rejects.toThrow()
    expect(Date.now() - t0).toBeLessThan(1500)
    const ctl = new AbortController()
    setTimeout(() => { ctl.abort() }, 200)
    await expect(a.call(b.peerId.toString(), Buffer.from('slow'), { signal: ctl.signal })).rejects.toThrow()
    // c takes no calls
    await c.handle('/test/nothing/1.0.0', s => { s.end() })
    await a.libp2p.peerStore.merge(c.peerId, { multiaddrs: c.getMultiaddrs() })
    await expect(a.call(c.peerId.toString(), Buffer.from('x'))).rejects.toThrow(/takes no calls|protocol/i)
  }, 30_000)

  it('a call does not wait behind a known address that never answers: every address is tried at once', async () => {
    // a TCP port on loopback that accepts and then says nothing: libp2p's
    // own peer dial would wait its 12 s address timeout there first
    const silent = createServer(() => {})
    await new Promise<void>(resolve => { silent.listen(0, '127.0.0.1', resolve) })
    try {
      const port = (silent.address() as AddressInfo).port
      // d on the IPv6 loopback: the silent IPv4 address sorts before it
      const d = await node({ listen: ['/ip6/::1/tcp/0'], dht: false })
      await d.onCall(req => req)
      const e = await node({ listen: [], dht: false })
      const addrs = [multiaddr(`/ip4/127.0.0.1/tcp/${port}`), ...d.getMultiaddrs()]
      const t0 = Date.now()
      const reply = await e.call({ peerId: d.peerId, multiaddrs: addrs }, Buffer.from('quick'))
      expect(Buffer.from(reply).toString()).toBe('quick')
      expect(Date.now() - t0).toBeLessThan(5000)
    } finally {
      silent.close()
    }
  }, 30_000)

  it('works through a relay: a node with no listener of its own answers calls and streams', async () => {
    const relay = await node({ listen: LISTEN, relayServer: {}, dht: false })
    const hidden = await node({ listen: [], bootstrap: [multiaddr(addrOf(relay))], reservations: 1, dht: false })
    const relayed = await hidden.waitForReservation({ timeout: 10_000 })
    expect(relayed.length).toBeGreaterThan(0)
    await hidden.onCall(req => Buffer.concat([Buffer.from('via relay: '), Buffer.from(req)]))
    await hidden.handle('/test/echo/1.0.0', (stream) => { stream.pipe(stream) })
    const caller = await node({ listen: [], dht: false })
    await caller.libp2p.peerStore.merge(hidden.peerId, { multiaddrs: relayed })
    expect(Buffer.from(await caller.call(hidden.peerId.toString(), Buffer.from('hi'))).toString()).toBe('via relay: hi')
    const s = await caller.open(hidden.peerId.toString(), '/test/echo/1.0.0')
    const data = randomBytes(1024 * 1024)
    const back = readAll(s)
    s.end(data)
    expect((await back).equals(data)).toBe(true)
    const st = caller.status()
    expect(st.connections.some(x => x.peerId === hidden.peerId.toString() && !x.direct)).toBe(true)
  }, 60_000)
})

describe('records in the DHT', () => {
  it('put by the owner, get by anyone; an update wins by sequence number', async () => {
    const first = await a.records.put('profile', Buffer.from('v1'))
    const got = await b.records.get(a.peerId, 'profile')
    expect(Buffer.from(got.value).toString()).toBe('v1')
    expect(got.seq).toBe(first.seq)
    const second = await a.records.put('profile', Buffer.from('v2'))
    expect(second.seq).toBeGreaterThan(first.seq)
    const again = await c.records.get(a.peerId.toString(), 'profile')
    expect(Buffer.from(again.value).toString()).toBe('v2')
  }, 60_000)

  it('expires: a record past its ttl is gone', async () => {
    await a.records.put('short', Buffer.from('soon gone'), { ttl: 1000 })
    expect(Buffer.from((await b.records.get(a.peerId, 'short')).value).toString()).toBe('soon gone')
    await new Promise(resolve => setTimeout(resolve, 1500))
    await expect(b.records.get(a.peerId, 'short', { signal: AbortSignal.timeout(10_000) })).rejects.toThrow(RecordNotFoundError)
  }, 60_000)

  it('rejects forgeries: a record under a\'s id signed by another key is refused by the DHT servers and by readers', async () => {
    const key = recordKey(a.peerId.toString(), 'forged')
    // someone else's key signs a record that claims to be a's
    const evil = await generateKeyPair('Ed25519')
    const forged = await signRecord(evil, key, Buffer.from('evil'), Date.now(), Date.now() + 60_000)
    await expect(validateRecord(key, forged)).rejects.toThrow(/signature does not match/)
    // pushed into the DHT anyway: the put resolves (kad-dht does not report
    // the servers' refusals back), but no server holds it...
    await expect(b.libp2p.contentRouting.put(key, forged, { signal: AbortSignal.timeout(10_000) })).resolves.toBeUndefined()
    expect(await storedOn(servers, key)).toEqual([null, null, null])
    // ...so a reader finds no record at all (not an invalid one)
    const missing = await c.records.get(a.peerId, 'forged', { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => err)
    expect(missing).toBeInstanceOf(RecordNotFoundError)
    expect((missing as Error).message).toMatch(new RegExp(`^no record 'forged' of ${a.peerId.toString()} in the DHT \\(`))
    // a genuine record cannot be overwritten by a forged one with a higher seq either
    const mine = await a.records.put('owned', Buffer.from('mine'))
    const ownedKey = recordKey(a.peerId.toString(), 'owned')
    const hijack = await signRecord(evil, ownedKey, Buffer.from('theirs'), mine.seq + 10_000_000, Date.now() + 60_000)
    await expect(b.libp2p.contentRouting.put(ownedKey, hijack, { signal: AbortSignal.timeout(10_000) })).resolves.toBeUndefined()
    expect(await storedOn(servers, ownedKey)).toEqual([mine.seq, mine.seq, mine.seq])
    const owned = await c.records.get(a.peerId, 'owned')
    expect([Buffer.from(owned.value).toString(), owned.seq]).toEqual(['mine', mine.seq])
    // and values above the limit never leave the writer
    await expect(a.records.put('big', new Uint8Array(9 * 1024))).rejects.toThrow(/exceeds/)
  }, 60_000)
})
