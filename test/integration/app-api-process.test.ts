/**
 * The embedding API across processes (issue 7): this test process is one
 * node, built from the package's public exports (`import … from 'beam'`);
 * the other node runs in a child process (test/helpers/app-node.ts, also on
 * the public API) driven over stdin/stdout; a third process is a relay and
 * the only DHT server. Everything listens on 127.0.0.1; no default bootstrap.
 *
 * Each case runs twice: over a direct TCP connection, and through the relay
 * (the child then has no listener at all, only a reservation).
 */
import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createBeam, MessageTooLargeError, parsePeerMultiaddr, RecordError, recordKey, RecordNotFoundError, RemoteCallError, signRecord } from 'beam'
import type { BeamNode, BeamRecord } from 'beam'
import { AppNodeProcess } from '../helpers/app-node-client.ts'
import type { ChildNodeInfo } from '../helpers/app-node-client.ts'
import { extract } from '../../scripts/check-snippets.ts'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const MiB = 1024 * 1024
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')
const b64 = (text: string): string => Buffer.from(text).toString('base64')
const text = (data: unknown): string => Buffer.from(String(data), 'base64').toString()
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Poll `check` every 100 ms until it returns true; fails after `ms`. */
async function until (what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** Read a Duplex to its end, `delayMs` after each chunk; count and hash. */
async function readAll (d: Duplex, delayMs = 0): Promise<{ bytes: number, sha256: string, data: Buffer[] }> {
  const hash = createHash('sha256')
  const data: Buffer[] = []
  let n = 0
  for await (const chunk of d) {
    const c = chunk as Buffer
    hash.update(c)
    n += c.length
    if (data.length < 64) data.push(c)
    if (delayMs > 0) await sleep(delayMs)
  }
  return { bytes: n, sha256: hash.digest('hex'), data }
}

/** Write `blocks` with backpressure: wait for 'drain' whenever write() says so. */
async function writeAll (d: Duplex, blocks: Buffer[], progress: { written: number, waits: number }): Promise<void> {
  for (const block of blocks) {
    progress.written += block.length
    if (!d.write(block)) { progress.waits++; await once(d, 'drain') }
  }
  d.end()
}

const procs: AppNodeProcess[] = []
let relayProc: AppNodeProcess
let relayAddr: string

beforeAll(async () => {
  relayProc = new AppNodeProcess('relay')
  procs.push(relayProc)
  const info = await relayProc.start({ listen: LOOPBACK, relayServer: true })
  relayAddr = info.multiaddrs.find(m => m.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''
  expect(relayAddr).not.toBe('')
}, 120_000)

afterAll(async () => {
  await Promise.all(procs.map(async p => { await p.close() }))
})

for (const mode of ['direct', 'relayed'] as const) {
  describe(`${mode} path between two processes`, () => {
    let peer: AppNodeProcess
    let info: ChildNodeInfo
    let a: BeamNode

    beforeAll(async () => {
      peer = new AppNodeProcess(mode)
      procs.push(peer)
      info = await peer.start(mode === 'direct'
        ? { listen: LOOPBACK, bootstrap: [relayAddr] }
        : { listen: [], bootstrap: [relayAddr], reservations: 1 })
      if (mode === 'relayed') expect(info.multiaddrs.every(m => m.includes('/p2p-circuit'))).toBe(true)
      // this node: no listener either; it reaches the child by its connect string
      a = await createBeam({ listen: [], bootstrap: [parsePeerMultiaddr(relayAddr)], transports: { webrtc: false } })
      await peer.request('echo', { protocol: '/test/echo/1.0.0' })
      const s = await a.open(info.connectString, '/test/echo/1.0.0', { signal: AbortSignal.timeout(60_000) })
      s.end(Buffer.from('ping'))
      expect((await readAll(s)).data.join('')).toBe('ping')
      const conn = a.status().connections.find(c => c.peerId === info.peerId)
      expect(conn?.direct).toBe(mode === 'direct')
    }, 180_000)

    afterAll(async () => {
      await a?.stop()
    })

    it('echoes 16 MiB through the other process, hashes equal', async () => {
      const stream = await a.open(info.connectString, '/test/echo/1.0.0', { signal: AbortSignal.timeout(60_000) })
      const blocks = Array.from({ length: 16 }, () => randomBytes(MiB))
      const progress = { written: 0, waits: 0 }
      const back = readAll(stream)
      await writeAll(stream, blocks, progress)
      const got = await back
      expect(got.bytes).toBe(16 * MiB)
      expect(got.sha256).toBe(sha256(Buffer.concat(blocks)))
    }, 180_000)

    it('a reader in the other process that does not read holds this writer back; all bytes arrive once it reads', async () => {
      const protocol = `/test/sink-${mode}/1.0.0`
      await peer.request('sink', { protocol, delayMs: 1 })
      const stream = await a.open(info.connectString, protocol, { signal: AbortSignal.timeout(60_000) })
      const blocks = Array.from({ length: 32 }, () => randomBytes(MiB))
      const progress = { written: 0, waits: 0 }
      const writing = writeAll(stream, blocks, progress)
      const answer = readAll(stream)
      await peer.waitForEvent(e => e.event === 'sink:open' && e.protocol === protocol, 90_000)
      // wait until the writer is stuck: no progress for a second (at most 30 tries)
      let last = -1
      for (let i = 0; i < 30 && progress.written !== last; i++) {
        last = progress.written
        await sleep(1000)
      }
      expect(progress.written, 'the writer never stalled').toBe(last)
      expect(progress.written).toBeLessThan(32 * MiB)
      expect(progress.waits).toBeGreaterThan(0)
      console.log(`app-api-process backpressure: writer stalled after ${progress.written / MiB} MiB of 32 (${progress.waits} waits for drain)`)
      await peer.request('release', { protocol })
      await writing
      const done = await peer.waitForEvent(e => e.event === 'sink:done' && e.protocol === protocol, 90_000)
      expect(done.bytes).toBe(32 * MiB)
      expect(done.sha256).toBe(sha256(Buffer.concat(blocks)))
      const reply = JSON.parse((await answer).data.join('')) as { bytes: number, sha256: string }
      expect(reply).toEqual({ bytes: 32 * MiB, sha256: done.sha256 })
    }, 180_000)

    it('a slow reader here: the writer in the other process waits for it; 16 MiB arrive intact', async () => {
      const protocol = `/test/source-${mode}/1.0.0`
      await peer.request('source', { protocol, bytes: 16 * MiB })
      const stream = await a.open(info.connectString, protocol, { signal: AbortSignal.timeout(60_000) })
      stream.end()
      const got = await readAll(stream, 2)
      expect(got.bytes).toBe(16 * MiB)
      const sent = await peer.waitForEvent(e => e.event === 'source:done' && e.protocol === protocol, 90_000)
      expect(got.sha256).toBe(sent.sha256)
      expect(sent.waits).toBeGreaterThan(0)
    }, 180_000)

    it('messages both ways, authenticated by the sender\'s peer id; size limit', async () => {
      await peer.request('onMessage')
      await a.send(info.connectString, Buffer.from(`hello from ${mode}`), { signal: AbortSignal.timeout(60_000) })
      const m = await peer.waitForEvent(e => e.event === 'message' && text(e.data) === `hello from ${mode}`)
      expect(m.from).toBe(a.peerId.toString())
      const got: Array<{ from: string, data: string }> = []
      await a.onMessage((data, from) => { got.push({ from: from.peerId.toString(), data: Buffer.from(data).toString() }) })
      // the child answers over the connection this node opened (this node has no address of its own)
      await peer.request('send', { target: a.peerId.toString(), data: b64('hi back') })
      await until('the message from the child', () => got.length > 0)
      expect(got).toEqual([{ from: info.peerId, data: 'hi back' }])
      await expect(a.send(info.connectString, new Uint8Array(32 * 1024 + 1))).rejects.toThrow(MessageTooLargeError)
    }, 180_000)

    it('calls: reply, remote failure, timeout, abort; and a call the other way', async () => {
      await peer.request('onCall')
      const target = info.connectString
      expect(Buffer.from(await a.call(target, Buffer.from('abc'))).toString()).toBe('cba')
      const failed = await a.call(target, Buffer.from('fail')).catch((err: Error) => err)
      expect(failed).toBeInstanceOf(RemoteCallError)
      expect((failed as Error).message).toMatch(/failed on purpose/)
      const timedOut = await a.call(target, Buffer.from('slow:5000'), { timeout: 300 }).catch((err: Error) => err)
      expect((timedOut as Error).name).toBe('TimeoutError')
      const ctl = new AbortController()
      setTimeout(() => { ctl.abort() }, 200)
      const aborted = await a.call(target, Buffer.from('slow:5000'), { signal: ctl.signal }).catch((err: Error) => err)
      expect((aborted as Error).name).toBe('AbortError')
      // the node still answers after those
      expect(Buffer.from(await a.call(target, Buffer.from('xyz'))).toString()).toBe('zyx')
      await a.onCall(request => Buffer.concat([Buffer.from('from the test: '), Buffer.from(request)]))
      const back = await peer.request<{ data: string }>('call', { target: a.peerId.toString(), data: b64('q') })
      expect(text(back.data)).toBe('from the test: q')
    }, 180_000)

    it('records: put in the other process, get and watch here; an update wins; expiry; forgeries are refused', async () => {
      const v1 = await peer.request<{ seq: number }>('put', { name: 'profile', value: b64('v1') }, 60_000)
      const got = await a.records.get(info.peerId, 'profile', { signal: AbortSignal.timeout(60_000) })
      expect(Buffer.from(got.value).toString()).toBe('v1')
      expect(got.seq).toBe(v1.seq)

      // watch: polls; yields v1 (the first one seen), then each newer version once
      const ctl = new AbortController()
      const seen: BeamRecord[] = []
      const newer: BeamRecord[] = []
      const watching = (async () => {
        for await (const r of a.records.watch(info.peerId, 'profile', { interval: 200, signal: ctl.signal })) seen.push(r)
      })()
      const watchingNewer = (async () => {
        for await (const r of a.records.watch(info.peerId, 'profile', { interval: 200, since: v1.seq, signal: ctl.signal })) newer.push(r)
      })()
      await until('watch to yield v1', () => seen.length > 0)
      const v2 = await peer.request<{ seq: number }>('put', { name: 'profile', value: b64('v2') })
      expect(v2.seq).toBeGreaterThan(v1.seq)
      await until('watch to yield v2', () => seen.length > 1 && newer.length > 0)
      await sleep(1000) // several more polls: no repeats
      ctl.abort()
      await watching
      await watchingNewer
      expect(seen.map(r => [Buffer.from(r.value).toString(), r.seq])).toEqual([['v1', v1.seq], ['v2', v2.seq]])
      expect(newer.map(r => Buffer.from(r.value).toString())).toEqual(['v2'])
      // bad arguments fail at the first next(), before any query
      await expect(a.records.watch(info.peerId, 'profile', { interval: 10 }).next()).rejects.toThrow(RecordError)
      await expect(a.records.watch(info.peerId, 'Not A Name').next()).rejects.toThrow(RecordError)

      // expiry: readable until `expires`, gone after it (8 s: time enough for a get on a loaded machine)
      const short = await peer.request<{ expires: number }>('put', { name: 'short', value: b64('soon gone'), ttl: 8000 })
      expect(Buffer.from((await a.records.get(info.peerId, 'short', { signal: AbortSignal.timeout(60_000) })).value).toString()).toBe('soon gone')
      await sleep(Math.max(0, short.expires - Date.now()) + 500)
      await expect(a.records.get(info.peerId, 'short', { signal: AbortSignal.timeout(60_000) })).rejects.toThrow(RecordNotFoundError)

      // forgeries: records under the child's id signed by another key
      const evil = await generateKeyPair('Ed25519')
      const hijackKey = recordKey(info.peerId, 'profile')
      const hijack = await signRecord(evil, hijackKey, Buffer.from('theirs'), v2.seq + 10_000_000, Date.now() + 60_000)
      // the puts resolve: kad-dht does not report the server's refusal back
      await expect(a.libp2p.contentRouting.put(hijackKey, hijack, { signal: AbortSignal.timeout(10_000) })).resolves.toBeUndefined()
      const newKey = recordKey(info.peerId, 'forged')
      await expect(a.libp2p.contentRouting.put(newKey, await signRecord(evil, newKey, Buffer.from('evil'), Date.now(), Date.now() + 60_000), { signal: AbortSignal.timeout(10_000) })).resolves.toBeUndefined()
      // the relay (the DHT server, another process) refused both: readers here and in the child see the owner's data only
      const here = await a.records.get(info.peerId, 'profile', { signal: AbortSignal.timeout(60_000) })
      expect([Buffer.from(here.value).toString(), here.seq]).toEqual(['v2', v2.seq])
      const own = await peer.request<{ value: string, seq: number }>('get', { peerId: info.peerId, name: 'profile' })
      expect([text(own.value), own.seq]).toEqual(['v2', v2.seq])
      // no record at all under the forged name (not an invalid one), in both processes
      const forgedHere = await a.records.get(info.peerId, 'forged', { signal: AbortSignal.timeout(60_000) }).catch((err: unknown) => err)
      expect(forgedHere).toBeInstanceOf(RecordNotFoundError)
      expect((forgedHere as Error).message).toMatch(new RegExp(`^no record 'forged' of ${info.peerId} in the DHT \\(`))
      const forged = await peer.request('get', { peerId: info.peerId, name: 'forged' }).then(() => undefined, (err: unknown) => err)
      expect((forged as Error | undefined)?.name).toBe('RecordNotFoundError')
      expect((forged as Error).message).toMatch(new RegExp(`^no record 'forged' of ${info.peerId} in the DHT \\(`))
    }, 180_000)
  })
}

describe('the tutorial and the examples, each in a process of its own', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url))

  /** Run a file with this Node from the repository root; killed after `ms`. */
  async function run (args: string[], ms: number): Promise<{ code: number | string, stdout: string, stderr: string }> {
    return await new Promise(resolve => {
      execFile(process.execPath, args, { cwd: root, timeout: ms }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string, signal?: string }) | null
        resolve({ code: e == null ? 0 : (e.signal ?? e.code ?? 1), stdout, stderr })
      })
    })
  }

  it('docs/embedding.md: the tutorial runs as written and prints what its comments say', async () => {
    const snippets = extract('docs/embedding.md', readFileSync(join(root, 'docs/embedding.md'), 'utf8'))
    const tutorial = snippets[0]
    expect(tutorial?.lines.join('\n')).toContain('loadOrCreateIdentity')
    // inside the repository, so that 'beam' resolves through package.json exports as in an app
    const dir = join(root, '.snippets-run')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `tutorial-${process.pid}.ts`)
    writeFileSync(file, (tutorial?.lines ?? []).join('\n') + '\nexport {}\n')
    try {
      const r = await run([file], 150_000)
      const seen = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`
      expect(r.code, seen).toBe(0)
      const lines = r.stdout.split('\n')
      expect(lines[0], seen).toMatch(/^alice is 12D3KooW\w+ \(new key\)$/)
      expect(lines[1], seen).toMatch(new RegExp(`^\\w{6} sent ${sha256(Buffer.from('hello alice'))}$`))
      expect(lines.slice(2), seen).toEqual(expect.arrayContaining(['SHOUT', "carol's status is now: away", 'hello through a tunnel']))
      expect(lines.some(l => /^\w{6}: hi alice$/.test(l)), seen).toBe(true)
      expect(lines.some(l => /^alice said no: .*empty request$/.test(l)), seen).toBe(true)
      expect(lines.some(l => /^carol's status: online \(seq \d+\)$/.test(l)), seen).toBe(true)
      expect(lines.some(l => /^bob ↔ \w{6}: direct over tcp$/.test(l)), seen).toBe(true)
    } finally {
      rmSync(file, { force: true })
    }
  }, 180_000)

  it('examples/file-drop.ts: a receiver and a sender in two processes move 16 MiB, checked by SHA-256', async () => {
    const work = mkdtempSync(join(tmpdir(), 'beam-file-drop-'))
    const inbox = join(work, 'inbox')
    const data = randomBytes(16 * MiB)
    writeFileSync(join(work, 'blob.bin'), data)
    const receiver = spawn(process.execPath, ['examples/file-drop.ts', 'receive', inbox, '--once'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const lines: string[] = []
      createInterface({ input: receiver.stdout }).on('line', l => { lines.push(l) })
      await until('the receiver to print the send command', () => lines.some(l => l.startsWith('node examples/file-drop.ts send ')), 60_000)
      const command = lines.find(l => l.startsWith('node examples/file-drop.ts send ')) ?? ''
      const connectString = command.split(' ')[3] ?? ''
      const exited = once(receiver, 'exit')
      const sent = await run(['examples/file-drop.ts', 'send', connectString, join(work, 'blob.bin')], 90_000)
      expect(sent.code, `${sent.stdout}\n${sent.stderr}`).toBe(0)
      expect(sent.stdout).toContain(`sha256 ${sha256(data)}, confirmed by the receiver`)
      const [code] = await exited as [number | null]
      expect(code, lines.join('\n')).toBe(0)
      expect(lines.some(l => l.startsWith('* received blob.bin (16777216 bytes, sha256 checked) from '))).toBe(true)
      expect(sha256(readFileSync(join(inbox, 'blob.bin')))).toBe(sha256(data))
      // the receiver is gone: the sender says so and exits 1
      const failed = await run(['examples/file-drop.ts', 'send', connectString, join(work, 'blob.bin')], 60_000)
      expect(failed.code).toBe(1)
      expect(failed.stdout).toMatch(/^\* not delivered: /)
    } finally {
      receiver.kill()
      rmSync(work, { recursive: true, force: true })
    }
  }, 180_000)
})
