// Dev tool: throughput, cold start and RSS of real beam processes on 127.0.0.1.
//
//   node_modules/.bin/node scripts/perf-throughput.ts [--mib 256] [--rounds 3]
//        [--scenarios raw,fwd2,tcp,quic,webrtc,relay] [--upload] [--cold 5]
//        [--rss] [--prof DIR]
//   node_modules/.bin/node scripts/perf-throughput.ts --summarize FILE.cpuprofile [--top 25]
//
// Each scenario: a local source (a TCP server that writes --mib MiB of random
// bytes) behind a path, a sink that reads everything through the path and
// checks its SHA-256. Reported: MB/s (10^6 bytes/s) per round and the median.
// Loopback only: every process listens on 127.0.0.1, no bootstrap file, no ICE
// server (WebRTC pinned to loopback with BEAM_WEBRTC_BIND).
// Not a test and not the benchmark suite (`npm run bench`): a quick, honest
// instrument for finding costs. The machine is shared: look at medians.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createWriteStream, readFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const BEAM_JS = fileURLToPath(new URL('../bin/beam.js', import.meta.url))
const NODE = process.execPath

const { values: opts } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: 'raw,fwd2,tcp,quic,webrtc,relay' },
    upload: { type: 'boolean', default: false },
    cold: { type: 'string', default: '0' },
    'cold-args': { type: 'string', default: '--no-webrtc' },
    concurrent: { type: 'string', default: '0' },
    rss: { type: 'boolean', default: false },
    prof: { type: 'string' },
    summarize: { type: 'string' },
    top: { type: 'string', default: '25' },
    env: { type: 'string', multiple: true },
    log: { type: 'string' },
    'node-flags': { type: 'string', default: '' }
  }
})

// beam's launcher, after any extra Node flags (--node-flags '--trace-gc')
const BEAM = BEAM_JS
const beamArgv = (args: string[]): string[] => [...(opts['node-flags'] ?? '').split(' ').filter(f => f !== ''), BEAM, ...args]

// ---------------------------------------------------------------- helpers

const BLOCK = randomBytes(1024 * 1024)

function expectedSha (mib: number): string {
  const h = createHash('sha256')
  for (let i = 0; i < mib; i++) h.update(BLOCK)
  return h.digest('hex')
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2
}

function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([
    p.finally(() => { clearTimeout(t) }),
    new Promise<never>((_resolve, reject) => { t = setTimeout(() => { reject(new Error(`${what}: no answer within ${ms} ms`)) }, ms) })
  ])
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A TCP server: on each connection, writes `mib` MiB then ends (download), or hashes what it reads (upload). */
async function startSource (mib: number, upload: boolean): Promise<{ port: number, server: Server, uploads: Array<Promise<string>> }> {
  const uploads: Array<Promise<string>> = []
  const server = createServer({ noDelay: true }, (sock: Socket) => {
    sock.on('error', () => {})
    if (upload) {
      uploads.push(hashSocket(sock).then(r => r.sha))
      return
    }
    let i = 0
    const more = (): void => {
      while (i < mib) {
        i++
        if (!sock.write(BLOCK)) { sock.once('drain', more); return }
      }
      sock.end()
    }
    more()
  })
  return { port: await listen(server), server, uploads }
}

async function hashSocket (sock: Socket): Promise<{ sha: string, bytes: number, firstByteAt: number }> {
  return await new Promise((resolve, reject) => {
    const h = createHash('sha256')
    let bytes = 0
    let firstByteAt = 0
    sock.on('data', (c: Buffer) => { if (bytes === 0) firstByteAt = performance.now(); h.update(c); bytes += c.length })
    sock.on('end', () => { resolve({ sha: h.digest('hex'), bytes, firstByteAt }) })
    sock.on('error', reject)
  })
}

/** One transfer through `port`: MB/s from connect to the last byte, SHA-256 checked. */
async function transfer (port: number, mib: number, upload: boolean, src: { uploads: Array<Promise<string>> }, sha: string): Promise<number> {
  const start = performance.now()
  const sock = connect({ host: '127.0.0.1', port, noDelay: true })
  sock.on('error', () => {})
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  let got: string
  if (upload) {
    const n = src.uploads.length
    let i = 0
    await new Promise<void>((resolve) => {
      const more = (): void => {
        while (i < mib) { i++; if (!sock.write(BLOCK)) { sock.once('drain', more); return } }
        sock.end(); resolve()
      }
      more()
    })
    for (let k = 0; k < 600 && src.uploads.length <= n; k++) await new Promise(resolve => setTimeout(resolve, 10))
    got = await withTimeout(src.uploads[n] ?? Promise.reject(new Error('no upload arrived')), 120_000, 'upload')
    sock.destroy()
  } else {
    const r = await withTimeout(hashSocket(sock), 120_000, 'download')
    if (r.bytes !== mib * 1024 * 1024) throw new Error(`got ${r.bytes} bytes, expected ${mib * 1024 * 1024}`)
    got = r.sha
  }
  const secs = (performance.now() - start) / 1000
  if (got !== sha) throw new Error('SHA-256 mismatch')
  return (mib * 1024 * 1024) / 1e6 / secs
}

function rssMiB (pid: number | undefined): number {
  if (pid == null) return 0
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m == null ? 0 : Number(m[1]) / 1024
  } catch { return 0 }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds (pid: number | undefined): number {
  if (pid == null) return 0
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0 }
}

/** Every child started, so that none outlives this script, whatever failed. */
const allProcs: Proc[] = []

/** A child process whose stdout lines are parsed as JSON events. */
class Proc {
  readonly child: ChildProcess
  readonly events: Array<Record<string, unknown>> = []
  stderr = ''
  readonly spawnedAt = performance.now()
  private waiters: Array<() => void> = []
  constructor (args: string[], env: Record<string, string> = {}) {
    this.child = spawn(NODE, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    allProcs.push(this)
    // --log DIR: keep every child's raw output (e.g. with --env NODE_OPTIONS=--trace-gc)
    const log = opts.log != null ? createWriteStream(join(opts.log, `${args.find(a => ['share', 'connect', 'relay'].includes(a)) ?? 'node'}-${this.child.pid ?? 0}.log`)) : undefined
    if (log != null) { this.child.stdout?.pipe(log); this.child.stderr?.pipe(log) }
    let buf = ''
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buf += s
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try { this.events.push({ ...(JSON.parse(line) as Record<string, unknown>), at: performance.now() }) } catch { /* not an event */ }
      }
      for (const w of this.waiters.splice(0)) w()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-4000) })
    this.child.on('exit', () => { for (const w of this.waiters.splice(0)) w() })
  }

  async waitFor (name: string, ms = 30_000, pred: (e: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const deadline = performance.now() + ms
    for (;;) {
      const hit = this.events.find(e => e.event === name && pred(e))
      if (hit != null) return hit
      if (this.child.exitCode != null || this.child.signalCode != null) throw new Error(`process exited before '${name}': ${this.stderr.slice(-1500)}`)
      if (performance.now() > deadline) throw new Error(`no '${name}' within ${ms} ms: ${this.stderr.slice(-1500)}`)
      await new Promise<void>(resolve => { const t = setTimeout(resolve, 200); this.waiters.push(() => { clearTimeout(t); resolve() }) })
    }
  }

  async stop (): Promise<void> {
    if (this.child.exitCode != null || this.child.signalCode != null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(t)
  }
}

const FORWARDER = `
const net = require('node:net')
const to = process.argv[1]
const s = net.createServer({ noDelay: true }, (a) => {
  const b = net.connect({ host: '127.0.0.1', port: Number(to), noDelay: true })
  a.pipe(b); b.pipe(a)
  a.on('error', () => b.destroy()); b.on('error', () => a.destroy())
})
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', port: s.address().port })))
`

// ---------------------------------------------------------------- scenarios

interface Path { port: number, procs: Proc[], info: string, close: () => Promise<void> }

const homes: string[] = []
async function home (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beam-perf-'))
  homes.push(d)
  return d
}

function beamEnv (h: string, role: string): Record<string, string> {
  const env: Record<string, string> = { BEAM_HOME: h, BEAM_WEBRTC_BIND: '127.0.0.1', BEAM_LOG_LEVEL: 'warn' }
  if (opts.prof != null) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${opts.prof} --cpu-prof-name=${role}-\${pid}.cpuprofile`.trim()
  for (const kv of opts.env ?? []) { const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1) }
  return env
}

async function beamPath (kind: string, sourcePort: number): Promise<Path> {
  const procs: Proc[] = []
  const close = async (): Promise<void> => { for (const p of procs.reverse()) await p.stop() }
  try {
    let relayAddr: string | undefined
    if (kind === 'relay' || kind === 'webrtc') {
      const relay = new Proc(beamArgv(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--json']), beamEnv(await home(), 'relay'))
      procs.push(relay)
      relayAddr = ((await relay.waitFor('ready')).multiaddrs as string[])[0]
    }
    const listenArgs = kind === 'tcp'
      ? ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-relay']
      : kind === 'quic'
        ? ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--no-relay']
        : ['--no-listen', '--bootstrap', relayAddr ?? '']
    const share = new Proc(beamArgv(['share', String(sourcePort), ...listenArgs, '--no-default-bootstrap', '--json']), beamEnv(await home(), 'share'))
    procs.push(share)
    const cs = String((await share.waitFor('ready')).connect)
    const connArgs = ['connect', cs, '--no-default-bootstrap', '--json']
    if (relayAddr != null) connArgs.push('--bootstrap', relayAddr)
    if (kind !== 'webrtc') connArgs.push('--no-webrtc')
    const conn = new Proc(beamArgv([...connArgs]), beamEnv(await home(), 'connect'))
    procs.push(conn)
    const port = Number((await conn.waitFor('listening', 40_000)).port)
    const want = kind === 'relay' ? 'relay' : kind
    const path = await conn.waitFor('path', 30_000, e => e.transport === want)
    return { port, procs, info: `${String(path.transport)} ${String(path.remote)}`, close }
  } catch (err) {
    await close()
    throw err
  }
}

async function makePath (kind: string, sourcePort: number): Promise<Path> {
  if (kind === 'raw') return { port: sourcePort, procs: [], info: 'raw TCP', close: async () => {} }
  if (kind === 'fwd2') {
    const b = new Proc(['-e', FORWARDER, '--', String(sourcePort)])
    const bp = Number((await b.waitFor('listening')).port)
    const a = new Proc(['-e', FORWARDER, '--', String(bp)])
    const ap = Number((await a.waitFor('listening')).port)
    return { port: ap, procs: [a, b], info: 'two Node forwarders', close: async () => { await a.stop(); await b.stop() } }
  }
  return await beamPath(kind, sourcePort)
}

// ---------------------------------------------------------------- profile summary

interface ProfNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }

async function summarize (file: string, top: number): Promise<void> {
  const prof = JSON.parse(await readFile(file, 'utf8')) as { nodes: ProfNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }
  const self = new Map<number, number>()
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i] ?? 0
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  const byFn = new Map<string, number>()
  const byPkg = new Map<string, number>()
  let total = 0
  for (const n of prof.nodes) {
    const us = self.get(n.id) ?? 0
    total += us
    const url = n.callFrame.url.replace(/^file:\/\//, '')
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url === '' ? `(${n.callFrame.functionName || 'native'})` : url.includes('/src/') ? 'beam' : url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : url)
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + us)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
  }
  // inclusive time: each function once per sample, wherever it is on the stack
  const parent = new Map<number, number>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const nodeById = new Map(prof.nodes.map(n => [n.id, n]))
  const keyOf = (n: ProfNode): string => `${n.callFrame.functionName || '(anonymous)'}  ${n.callFrame.url.replace(/^file:\/\//, '').split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
  const incl = new Map<string, number>()
  for (const [id, us] of self) {
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur != null; cur = parent.get(cur)) {
      const n = nodeById.get(cur)
      if (n == null) break
      const k = keyOf(n)
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + us) }
    }
  }
  const pct = (us: number): string => `${(100 * us / total).toFixed(1).padStart(5)}%`
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  console.log('-- self time by package')
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(v)}  ${k}`)
  console.log('-- self time by function')
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
  console.log('-- inclusive time by function')
  for (const [k, v] of [...incl].filter(([k]) => !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
}

// ---------------------------------------------------------------- main

async function coldStart (sourcePort: number, rounds: number): Promise<void> {
  // a share on TCP; then, per round, a fresh `beam connect` process: spawn ->
  // 'listening' event -> connect -> first byte of the download
  const share = new Proc(beamArgv(['share', String(sourcePort), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-relay', '--no-default-bootstrap', '--json']), beamEnv(await home(), 'share'))
  try {
    const shareReady = (await share.waitFor('ready')).at as number
    console.log(`share spawn -> ready: ${(shareReady - share.spawnedAt).toFixed(0)} ms`)
    const cs = String((await share.waitFor('ready')).connect)
    const ms: number[] = []
    const ready: number[] = []
    const cpu: number[] = []
    const extra = (opts['cold-args'] ?? '').split(' ').filter(a => a !== '')
    for (let r = 0; r < rounds; r++) {
      const h = await home()
      const conn = new Proc(beamArgv(['connect', cs, '--no-default-bootstrap', ...extra, '--json']), beamEnv(h, 'connect'))
      const ev = await conn.waitFor('listening', 40_000)
      cpu.push(cpuSeconds(conn.child.pid) * 1000)
      const sock = connect({ host: '127.0.0.1', port: Number(ev.port) })
      const first = await new Promise<number>((resolve, reject) => { sock.once('data', () => { resolve(performance.now()) }); sock.once('error', reject) })
      sock.destroy()
      ms.push(first - conn.spawnedAt)
      ready.push((ev.at as number) - conn.spawnedAt)
      await conn.stop()
    }
    console.log(`connect spawn -> listening: ${ready.map(x => x.toFixed(0)).join(' ')} ms, median ${median(ready).toFixed(0)}`)
    console.log(`connect spawn -> first byte: ${ms.map(x => x.toFixed(0)).join(' ')} ms, median ${median(ms).toFixed(0)}`)
    console.log(`connect CPU until listening: ${cpu.map(x => x.toFixed(0)).join(' ')} ms, median ${median(cpu).toFixed(0)}  (connect ${extra.join(' ')})`)
  } finally {
    await share.stop()
  }
}

/** N connections at once through one path, each a small download (64 KiB) checked by SHA-256. */
async function concurrent (port: number, n: number): Promise<{ ok: number, failed: number, ms: number, firstError?: string }> {
  const start = performance.now()
  let firstError: string | undefined
  const results = await Promise.all(Array.from({ length: n }, async () => {
    try {
      const sock = connect({ host: '127.0.0.1', port })
      sock.on('error', () => {})
      const r = await withTimeout(hashSocket(sock), 120_000, 'concurrent download')
      return r.sha === SMALL_SHA && r.bytes === SMALL
    } catch (err) {
      firstError ??= (err as Error).message
      return false
    }
  }))
  const ok = results.filter(Boolean).length
  return { ok, failed: n - ok, ms: performance.now() - start, firstError }
}
const SMALL = 64 * 1024
const SMALL_SHA = createHash('sha256').update(BLOCK.subarray(0, SMALL)).digest('hex')

async function main (): Promise<void> {
  if (opts.summarize != null) { await summarize(opts.summarize, Number(opts.top)); return }
  const mib = Number(opts.mib)
  const rounds = Number(opts.rounds)
  const upload = opts.upload === true
  const sha = expectedSha(mib)
  const src = await startSource(mib, upload)
  try {
    if (Number(opts.cold) > 0) await coldStart(src.port, Number(opts.cold))
    if (Number(opts.concurrent) > 0) {
      // a source of 64 KiB per connection, through a TCP path
      const small = createServer((sock: Socket) => { sock.on('error', () => {}); sock.end(BLOCK.subarray(0, SMALL)) })
      const smallPort = await listen(small)
      const path = await makePath('tcp', smallPort)
      try {
        const r = await concurrent(path.port, Number(opts.concurrent))
        console.log(`concurrent ${opts.concurrent} through one tunnel: ${r.ok} ok, ${r.failed} failed, ${r.ms.toFixed(0)} ms${r.firstError != null ? ` (first error: ${r.firstError})` : ''}`)
        console.log(`        RSS MiB after: ${path.procs.map(p => rssMiB(p.child.pid).toFixed(0)).join('/')} (share/connect)`)
      } finally {
        await path.close()
        small.close()
      }
    }
    for (const kind of (opts.scenarios ?? '').split(',').filter(s => s !== '')) {
      const rates: number[] = []
      let path: Path | undefined
      try {
        path = await makePath(kind, src.port)
        const idle = path.procs.map(p => rssMiB(p.child.pid))
        const peak = path.procs.map(() => 0)
        const sampler = setInterval(() => { path?.procs.forEach((p, i) => { peak[i] = Math.max(peak[i] ?? 0, rssMiB(p.child.pid)) }) }, 50)
        // warm-up (JIT, window growth), not counted
        await transfer(path.port, mib, upload, src, sha)
        const cpu0 = path.procs.map(p => cpuSeconds(p.child.pid))
        const self0 = process.cpuUsage()
        for (let r = 0; r < rounds; r++) rates.push(await transfer(path.port, mib, upload, src, sha))
        clearInterval(sampler)
        const gib = rounds * mib / 1024
        const cpu = path.procs.map((p, i) => (cpuSeconds(p.child.pid) - (cpu0[i] ?? 0)) / gib)
        const selfUse = process.cpuUsage(self0)
        const selfCpu = (selfUse.user + selfUse.system) / 1e6 / gib
        const line = `${kind.padEnd(7)} ${upload ? 'up  ' : 'down'} ${mib} MiB: ${rates.map(x => x.toFixed(0)).join(' ')} MB/s  median ${median(rates).toFixed(0)} MB/s  (${path.info})`
        console.log(line)
        console.log(`        CPU s/GiB ${cpu.map(x => x.toFixed(2)).join('/')}${cpu.length > 0 ? ' ' : ''}(${kind === 'fwd2' ? 'fwd a/b' : path.procs.length === 3 ? 'relay/share/connect' : path.procs.length === 2 ? 'share/connect' : '-'}), source+sink ${selfCpu.toFixed(2)}`)
        if (opts.rss === true && path.procs.length > 0) {
          console.log(`        RSS MiB idle ${idle.map(x => x.toFixed(0)).join('/')}  peak ${peak.map(x => x.toFixed(0)).join('/')}`)
        }
      } catch (err) {
        console.log(`${kind.padEnd(7)} FAILED: ${(err as Error).message}`)
      } finally {
        await path?.close()
      }
    }
  } finally {
    for (const p of allProcs) await p.stop()
    src.server.close()
    for (const h of homes) await rm(h, { recursive: true, force: true })
  }
}

await main()
process.exit(0)
