/**
 * The I2P backend against a real private I2P network: three i2pd routers in
 * lab namespaces (see test/backends/i2p/i2p-net.ts), one SAM client router for the
 * share, one for the connector, one floodfill. Requires root, i2pd and socat;
 * skips loudly otherwise, and fails in CI (test/helpers/require-tools.ts). The CLI case runs real `beam share --i2p` /
 * `beam connect --i2p` processes under strace against the same routers (the
 * I2P-only leak check).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { b32Of, i2pBackend, publicOfPrivate, SamSession, TRANSIENT_DESTINATION } from '../../../src/backends/i2p/index.ts'
import { i2pNetAvailable, startI2pNetwork } from './i2p-net.ts'
import type { I2pNetwork } from './i2p-net.ts'
import { ECHO_PROTOCOL, i2pNode, randomData, readAll, sendAll, sha256, XFER_PROTOCOL } from './i2p-libp2p.ts'
import type { I2pTestNode } from './i2p-libp2p.ts'
import { decodeConnectString } from '../../../src/peer/index.ts'
import { startBlobServer, fetchThrough } from '../tor/blob.ts'
import { readTrace, startTraced, straceNeed } from '../strace.ts'
import { suiteNeeds } from '../../helpers/require-tools.ts'
import { triesReport, withTries } from '../../helpers/tries.ts'
import type { Trace } from '../strace.ts'

const avail = await i2pNetAvailable()
const skipI2p = suiteNeeds('I2P network tests', avail)

/**
 * Short tunnels: the network has three routers. Outbound tunnels have zero
 * hops so that they exist at once: i2pd 2.45 drops a lease set publication
 * tried before a session has an outbound tunnel and does not retry until its
 * lease set next changes (minutes), which left fresh shares unfindable in
 * about half the runs with 1-hop outbound tunnels on a loaded machine (see
 * docs/backends.md, I2P). Inbound tunnels keep one hop.
 */
const TUNNELS = { inboundLength: 1, outboundLength: 0, inboundQuantity: 2, outboundQuantity: 2 }
const MiB = 1024 * 1024

describe.skipIf(skipI2p)('I2P backend on a private i2pd network', () => {
  let net: I2pNetwork
  let shareSam: string
  let connectSam: string
  const nodes: I2pTestNode[] = []
  const sessions: SamSession[] = []
  const dirs: string[] = []

  beforeAll(async () => {
    net = await startI2pNetwork({ count: 3, floodfills: 1 })
    const [a, b] = net.routers
    if (a == null || b == null) throw new Error('network without routers')
    shareSam = `${a.sam.host}:${a.sam.port}`
    connectSam = `${b.sam.host}:${b.sam.port}`
    console.log(`i2p: ${net.routers.length} i2pd routers up in ${net.startMs} ms`)
  }, 90_000)

  afterAll(async () => {
    for (const s of sessions) s.close()
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await net?.teardown()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }, 60_000)

  it('reports the SAM bridge ready, and a closed port as not running', async () => {
    expect(await i2pBackend({ sam: shareSam }).available()).toEqual({ status: 'ready' })
    const closed = await freePort()
    const r = await i2pBackend({ sam: `127.0.0.1:${closed}` }).available()
    // i2pd is installed here (the suite skips otherwise)
    expect(r.status).toBe('not-running')
    expect(r.reason).toContain(`127.0.0.1:${closed}`)
  })

  it('creates sessions; a session names itself, the other router resolves its .b32.i2p name', async () => {
    const port = (sam: string): number => Number(sam.split(':')[1])
    const create = async (sam: string): Promise<SamSession> => {
      const s = await SamSession.create({ sam: { host: '127.0.0.1', port: port(sam) }, destination: 'TRANSIENT', tunnels: TUNNELS })
      sessions.push(s)
      return s
    }
    const [first, b] = await Promise.all([create(shareSam), create(connectSam)])
    let a = first
    console.log(`i2p: SAM sessions ready in ${a.readyMs} ms and ${b.readyMs} ms`)
    expect(a.alive).toBe(true)
    expect(a.b32).toMatch(/^[a-z2-7]{52}\.b32\.i2p$/)
    expect(await a.lookup('ME')).toBe(a.destination)
    expect(b32Of(a.destination)).toBe(a.b32)
    // the connector's router finds the share's lease set through the
    // floodfill, once it got there: usually at once, but i2pd 2.45 skips a
    // publication attempted before the session has tunnels both ways and
    // waits for the next lease set change, up to 10 minutes (docs/backends.md,
    // I2P, item 6). A destination that is not findable within 80 s is that
    // race, not a fault of beam's: the test tries a fresh destination (at
    // most 3 in all, so that the report says whether a fresh one resolves).
    const t = Date.now()
    const found = await withTries('i2p: .b32.i2p lookup from the other router (80 s per destination)', 3, async () => {
      const dest = await lookupWithRetry(b, a.b32, 80_000)
      if (dest !== a.destination) throw new Error(`${a.b32} resolved to another destination`)
    }, {
      beforeRetry: async () => {
        a.close()
        a = await create(shareSam)
      }
    })
    console.log(`i2p: .b32.i2p of a fresh session resolvable from another router ${Date.now() - t} ms after both were ready`)
    // One fresh destination more is allowed: a clean-clone CI run of 2026-12-07
    // met the race once (try 1 answered INVALID_KEY, i2pd's reply when it finds
    // no lease set, after the 80 s), and the second destination resolved, with
    // nothing of beam's involved. The line above reports it; a third failure
    // (no fresh destination resolvable) still fails the test.
    expect(found.tries, triesReport('the .b32.i2p lookup (the lease set publication race of i2pd 2.45)', found)).toBeLessThanOrEqual(2)
  }, 400_000)

  it('names SAM errors: unknown .b32.i2p, wrong server, nothing listening', async () => {
    const session = sessions.find(s => s.alive)
    if (session == null) throw new Error('needs a session of the previous test')
    const unknown = `${'a'.repeat(52)}.b32.i2p`
    const err = await session.lookup(unknown, { timeoutMs: 90_000 }).catch((e: unknown) => e as Error & { result?: string })
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('SamProtocolError')
    // i2pd 2.45 answers INVALID_KEY for a name whose lease set is not found; the SAM spec says KEY_NOT_FOUND
    expect(['KEY_NOT_FOUND', 'INVALID_KEY']).toContain((err as { result?: string }).result)

    const notSam = createServer(s => { s.end('HTTP/1.0 400 Bad Request\r\n\r\n') })
    await new Promise<void>(resolve => notSam.listen(0, '127.0.0.1', resolve))
    const port = (notSam.address() as { port: number }).port
    const e2 = await SamSession.create({ sam: { host: '127.0.0.1', port }, destination: 'TRANSIENT' }).catch((e: unknown) => e as Error)
    notSam.close()
    expect((e2 as Error).name).toBe('SamProtocolError')
    expect((e2 as Error).message).toContain('not a SAM v3 bridge')

    const closed = await freePort()
    const e3 = await SamSession.create({ sam: { host: '127.0.0.1', port: closed }, destination: 'TRANSIENT' }).catch((e: unknown) => e as Error)
    expect((e3 as Error).name).toBe('SamUnreachableError')
  }, 120_000)

  it('carries 4 MiB each way between two libp2p nodes over I2P, hashed on both ends', async () => {
    const share = await i2pNode({ sam: shareSam, tunnels: TUNNELS, listen: true })
    nodes.push(share)
    // a fresh share may stay unfindable for minutes on i2pd 2.45 (see above): retry long
    const connector = await i2pNode({ sam: connectSam, tunnels: TUNNELS, listen: false, reachRetryMs: 240_000 })
    nodes.push(connector)
    const shareAddr = fullAddr(share)
    if (shareAddr == null) throw new Error('share has no I2P address')
    expect(shareAddr.toString()).toMatch(/^\/garlic64\/[A-Za-z0-9~-]{516,}/)
    expect(shareAddr.toString()).not.toContain(TRANSIENT_DESTINATION)

    const back = randomData(4 * MiB)
    let received: Promise<{ hash: string, bytes: number }> | undefined
    await share.handle(XFER_PROTOCOL, (stream) => {
      received = (async () => {
        const r = await readAll(stream)
        await sendAll(stream, back)
        await stream.close()
        return r
      })()
    })
    await share.handle(ECHO_PROTOCOL, (stream) => {
      void (async () => {
        for await (const chunk of stream) stream.send(chunk)
        await stream.close()
      })()
    })

    const t0 = Date.now()
    const conn = await connector.dial(shareAddr, { signal: AbortSignal.timeout(240_000) })
    console.log(`i2p: first dial (connector session + stream + Noise + yamux) ${Date.now() - t0} ms`)

    // round trip of one small message, 10 times
    const echo = await conn.newStream(ECHO_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
    const rtts: number[] = []
    for (let i = 0; i < 10; i++) {
      const t = Date.now()
      const got = new Promise<void>(resolve => { echo.addEventListener('message', () => { resolve() }, { once: true }) })
      echo.send(Uint8Array.of(i))
      await got
      rtts.push(Date.now() - t)
    }
    await echo.close()
    rtts.sort((a, b) => a - b)
    console.log(`i2p: echo RTT median ${rtts[5]} ms (min ${rtts[0]}, max ${rtts[9]})`)

    const data = randomData(4 * MiB)
    const stream = await conn.newStream(XFER_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
    const t1 = Date.now()
    const reading = readAll(stream)
    await sendAll(stream, data)
    await stream.close()
    const theirs = await reading
    const t2 = Date.now()
    const mine = await received
    if (mine == null) throw new Error('the share never saw the stream')
    expect(mine).toEqual({ hash: sha256(data), bytes: data.length })
    expect(theirs).toEqual({ hash: sha256(back), bytes: back.length })
    console.log(`i2p: 4 MiB each way in ${t2 - t1} ms (${(8 * MiB / MiB / ((t2 - t1) / 1000)).toFixed(2)} MiB/s both directions together)`)
  }, 400_000)

  it('delivers a whole transfer that is followed at once by closing the connection', async () => {
    const [share, connector] = nodes
    if (share == null || connector == null) throw new Error('needs the nodes of the previous test')
    const shareAddr = fullAddr(share)
    if (shareAddr == null) throw new Error('share has no I2P address')
    const results: Array<Promise<{ hash: string, bytes: number }>> = []
    await share.unhandle(XFER_PROTOCOL)
    await share.handle(XFER_PROTOCOL, (stream) => { results.push(readAll(stream)) })

    // the last round dials the share by its .b32.i2p name (/garlic32/…), as a short connect string would
    const dest = shareAddr.getComponents()[0]?.value ?? ''
    const byName = multiaddr(`/garlic32/${b32Of(dest).slice(0, 52)}/p2p/${share.peerId.toString()}`)
    for (let round = 0; round < 3; round++) {
      const data = randomData(MiB + round * 4097)
      const conn = await connector.dial(round === 2 ? byName : shareAddr, { signal: AbortSignal.timeout(240_000) })
      expect(conn.remoteAddr.toString()).toContain(round === 2 ? '/garlic32/' : '/garlic64/')
      const stream = await conn.newStream(XFER_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
      await sendAll(stream, data)
      await stream.close()
      // no waiting for the far side: close the whole connection right away
      // (libp2p gives a close 1 s by default, less than the rest of a MiB takes
      // over I2P on a loaded machine; the point here is what the transport does)
      await conn.close({ signal: AbortSignal.timeout(120_000) })
      const got = await waitForResult(results, round, 120_000)
      expect(got).toEqual({ hash: sha256(data), bytes: data.length })
      // the share's end closes too (from the end-of-data mark: i2pd 2.45 does not pass a bare close on)
      await waitUntil(() => share.getConnections(connector.peerId).length === 0, 60_000, 'the share to drop the closed connection')
    }
  }, 600_000)

  // the CLI processes make their own sessions on the same routers
  it.skipIf(skipI2p || suiteNeeds('I2P leak check (strace)', straceNeed()))('beam share --i2p --i2p-persistent → beam connect --i2p (CLI): 4 MiB each way, SHA-256 on both ends, no socket beyond the SAM ports', async () => {
    const blob = await startBlobServer(randomBytes(4 * MiB))
    const up = randomBytes(4 * MiB)
    const shareHome = mkdtempSync(join(tmpdir(), 'beam-i2p-cli-share-'))
    const connHome = mkdtempSync(join(tmpdir(), 'beam-i2p-cli-conn-'))
    dirs.push(shareHome, connHome)
    const samPort = (sam: string): number => Number(sam.split(':')[1])
    // the test network has three routers: short tunnels, as the library cases use (TUNNELS)
    const hops = ['--i2p-hops', `${TUNNELS.inboundLength},${TUNNELS.outboundLength}`]
    // --i2p-persistent: the destination's key is made in $BEAM_HOME/i2p on the first run
    const share = startTraced(['share', String(blob.port), '--i2p', '--i2p-sam', shareSam, ...hops, '--i2p-persistent', '--json'], { BEAM_HOME: shareHome }, join(shareHome, 'share.strace'))
    let connect: ReturnType<typeof startTraced> | undefined
    try {
      const t0 = Date.now()
      const ready = await share.proc.waitFor('ready', 150_000)
      const shareReadyMs = Date.now() - t0
      const cs = String(ready.connect)
      // the connect string and the printed addresses carry the garlic address and nothing else
      // (the short /garlic32 name: the full /garlic64 destination is over the per-address limit)
      const decoded = decodeConnectString(cs)
      expect(decoded.multiaddrs.map(String)).toEqual([expect.stringMatching(/^\/garlic32\/[a-z2-7]{52}$/)])
      const printed = (ready.multiaddrs as string[]).map(a => a.split('/p2p/')[0])
      expect(printed).toHaveLength(2)
      expect(printed).toContain(decoded.multiaddrs[0]?.toString())
      expect(printed.some(a => /^\/garlic64\/[A-Za-z0-9~=-]{516,}$/.test(a ?? ''))).toBe(true)
      expect(ready.backends).toEqual(['i2p'])
      expect(JSON.stringify(ready)).not.toMatch(/\/ip[46]\//)
      expect(share.proc.stderr).toContain('creating an I2P session for the share')
      const keyFile = join(shareHome, 'i2p', 'destination.key')
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      expect(b32Of(publicOfPrivate(readFileSync(keyFile, 'utf8').trim()))).toBe(`${decoded.multiaddrs[0]?.getComponents()[0]?.value ?? ''}.b32.i2p`)

      // i2pd 2.45 may skip a fresh lease set's first publication (see the session test above): wait until
      // the connector's router finds it, with the earlier test's session there (only when that test ran)
      const b32 = decoded.multiaddrs[0]?.getComponents()[0]?.value ?? ''
      const probe = sessions[1]
      if (probe != null) {
        const tl = Date.now()
        await lookupWithRetry(probe, `${b32}.b32.i2p`, 240_000)
        console.log(`i2p cli: the share's .b32.i2p resolvable from the connector's router ${Date.now() - tl} ms after ready`)
      }

      const t1 = Date.now()
      connect = startTraced(['connect', cs, '--i2p', '--i2p-sam', connectSam, ...hops, '--json'], { BEAM_HOME: connHome }, join(connHome, 'connect.strace'))
      const listening = await connect.proc.waitFor('listening', 200_000)
      const connectMs = Date.now() - t1
      expect(connect.proc.stderr).toContain('creating an I2P session for dialling')
      const res = await fetchThrough(Number(listening.port), up, 180_000)
      expect(res.received).toBe(4 * MiB)
      expect(res.receivedSha).toBe(blob.sha)
      expect(await blob.lastUploadSha()).toBe(createHash('sha256').update(up).digest('hex'))
      const path = connect.proc.events.find(e => e.event === 'path')
      expect(path?.transport).toBe('i2p')
      console.log(`i2p cli: share ready in ${shareReadyMs} ms; connect listening after ${connectMs} ms; 4 MiB each way in ${res.ms} ms (first byte ${res.firstByteMs} ms); path rtt ${String(path?.rttMs)} ms`)
    } finally {
      await connect?.stop()
      await share.stop()
      await blob.close()
    }
    const shareTrace = await readTrace(share.traceFile)
    expect(shareTrace.lines).toBeGreaterThan(0)
    // the share talks to its router's SAM bridge and to the shared service, nothing else
    expect(leaks(shareTrace, [samPort(shareSam), blob.port])).toEqual([])
    expect(shareTrace.inet.some(s => s.syscall === 'connect' && s.port === samPort(shareSam))).toBe(true)
    expect(shareTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
    if (connect == null) throw new Error('connect did not start')
    const connTrace = await readTrace(connect.traceFile)
    // the connector talks to its router's SAM bridge only
    expect(leaks(connTrace, [samPort(connectSam)])).toEqual([])
    expect(connTrace.inet.some(s => s.syscall === 'connect' && s.port === samPort(connectSam))).toBe(true)
    expect(connTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
  }, 420_000)

  it('keeps a share destination in a key file across sessions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beam-i2p-key-'))
    dirs.push(dir)
    const keyFile = join(dir, 'i2p.key')
    const backend = i2pBackend({ sam: shareSam, keyFile, tunnels: TUNNELS })
    expect(backend.listenAddrs?.()).toEqual([`/garlic64/${TRANSIENT_DESTINATION}`])
    const first = await i2pNode({ sam: shareSam, keyFile, tunnels: TUNNELS, listen: true })
    const addr1 = fullAddr(first)?.toString().split('/p2p/')[0]
    await first.stop()
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    expect(backend.listenAddrs?.()).toEqual([addr1])
    const second = await i2pNode({ sam: shareSam, keyFile, tunnels: TUNNELS, listen: true })
    nodes.push(second)
    expect(fullAddr(second)?.toString().split('/p2p/')[0]).toBe(addr1)
  }, 300_000)
})

/** A node's `/garlic64/…` address (its listener also reports the short `/garlic32/<b32>`). */
function fullAddr (node: I2pTestNode): ReturnType<I2pTestNode['getMultiaddrs']>[number] | undefined {
  return node.getMultiaddrs().find(ma => ma.toString().startsWith('/garlic64/'))
}

/** Every way a traced beam could have left loopback or used UDP/DNS (as test/backends/tor/cli.test.ts checks Tor-only mode). */
function leaks (trace: Trace, allowedConnectPorts: number[]): string[] {
  const out: string[] = []
  for (const u of trace.udpSockets) out.push(`UDP socket: ${u}`)
  for (const s of trace.inet) {
    if (s.family !== 'inet' || s.address !== '127.0.0.1') out.push(`${s.syscall} to ${s.address}:${s.port}: ${s.line}`)
    else if (s.port === 53) out.push(`${s.syscall} to port 53: ${s.line}`)
    else if (s.syscall === 'connect' && !allowedConnectPorts.includes(s.port)) out.push(`connect to 127.0.0.1:${s.port}, not an allowed port (${allowedConnectPorts.join(', ')})`)
    else if (s.syscall === 'sendto' || s.syscall === 'sendmsg') out.push(`datagram to ${s.address}:${s.port}: ${s.line}`)
  }
  for (const u of trace.unixConnects) out.push(`unix socket connect: ${u}`)
  return out
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

async function lookupWithRetry (session: SamSession, name: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await session.lookup(name, { timeoutMs: Math.max(1000, Math.min(60_000, deadline - Date.now())) })
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 2000))
    }
  }
}

async function waitUntil (check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function waitForResult<T> (results: Array<Promise<T>>, i: number, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (results[i] == null) {
    if (Date.now() > deadline) throw new Error(`stream ${i} never reached the share`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return await (results[i] as Promise<T>)
}
