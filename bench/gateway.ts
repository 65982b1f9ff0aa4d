/**
 * `node bench/gateway.ts`: beam gateway figures on loopback, in one run:
 * small HTTP requests over keep-alive connections (requests/s, p50/p99) and
 * one large download (MB/s), each against the service directly, a plain
 * reverse proxy (Debian's nginx when /usr/sbin/nginx exists, else a
 * node:http proxy, named in the output), and `beam gateway` + `beam share`
 * as processes over a direct beam path. Written to bench/results/gateway.json.
 *
 *   node bench/gateway.ts [--seconds N] [--concurrency N] [--mib N] [--cpu-prof DIR]
 *
 * nginx comes from scripts/install-bench-deps.sh (Debian's nginx-light), which the bench runs
 * when /usr/sbin/nginx is missing; the bench runs nginx with a config it writes (loopback only,
 * its own pid and log files), never the packaged one.
 * --cpu-prof DIR writes V8 CPU profiles of the gateway and share processes into DIR.
 *
 * Every process is started here, killed by its PID, and every wait is bounded.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { shareLabel } from '../src/gateway/index.ts'
import { parsePeerId } from '../src/peer/index.ts'
import { cpuSeconds, syscalls } from './lib/procs.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' }, mib: { type: 'string', default: '64' }, 'cpu-prof': { type: 'string' } } })
const PROF = values['cpu-prof']
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const MIB = Number(values.mib)
const BIG = Buffer.alloc(1024 * 1024, 7)

const children: ChildProcess[] = []
/** TCP connections the service has accepted so far (a proxy that reuses its upstream connections opens few). */
let serviceConnections = 0
const stopAll = (): void => { for (const c of children) if (c.exitCode == null) c.kill('SIGTERM') }
process.on('exit', stopAll)

async function service (): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': MIB * BIG.length })
      let i = 0
      const more = (): void => { while (i < MIB) { i++; if (!res.write(BIG)) { res.once('drain', more); return } } res.end() }
      more()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 })
    res.end('hello')
  })
  server.keepAliveTimeout = 30_000
  server.on('connection', () => { serviceConnections++ })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return server
}

/** A node:http reverse proxy (the fallback when nginx is not installed). */
async function nodeProxy (target: number): Promise<Server> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const server = createServer((req, res) => {
    const out = request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' }, agent }, r => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res) })
    out.on('error', () => { res.destroy() })
    req.pipe(out)
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return server
}

/** nginx's worker process (the master's child), for its CPU figure. */
function nginxWorker (master: number | undefined): number | undefined {
  if (master == null) return undefined
  try {
    const pid = Number(readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(' ')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

async function nginx (dir: string, target: number, port: number): Promise<number | undefined> {
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log; daemon off;
events { worker_connections 1024; }
http { access_log off; upstream app { server 127.0.0.1:${target}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $remote_addr; proxy_buffering off; } } }
`)
  const c = spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' })
  children.push(c)
  await waitHttp(port, 'localhost')
  return nginxWorker(c.pid)
}

async function get (port: number, host: string, path: string, agent: Agent): Promise<{ status: number, bytes: number }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent, timeout: 10_000 }, res => {
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, bytes }) })
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', reject)
    req.end()
  })
}

async function waitHttp (port: number, host: string): Promise<void> {
  const agent = new Agent()
  const deadline = Date.now() + 20_000
  for (;;) {
    const ok = await get(port, host, '/', agent).then(r => r.status === 200, () => false)
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing answers on port ${port}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

interface Figures {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  downloadMBps: number
  /** CPU µs per keep-alive request of the named processes (from /proc): the path's own, and `generator`, the bench's process (load generator and service). */
  cpuUsPerRequest?: Record<string, number | null>
  /** Read and write system calls per keep-alive request of the named processes (from /proc), where measured. */
  syscallsPerRequest?: Record<string, { reads: number, writes: number } | null>
  /** Connections the service accepted during the keep-alive requests (the warm-up excluded): 0 for a proxy that keeps its upstream connections. */
  serviceConnections: number
}

async function measure (port: number, host: string, others: Record<string, number | undefined> = {}): Promise<Figures> {
  // this process too: the load generator and the service share it, and on two cores it is a busy part of every path
  const procs: Record<string, number | undefined> = { ...others, generator: process.pid }
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  // warm up: every connection once
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => await get(port, host, '/', agent)))
  const lat: number[] = []
  let errors = 0
  const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, pid != null ? cpuSeconds(pid) : null]))
  const io0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, pid != null ? syscalls(pid) : null]))
  const conns0 = serviceConnections
  const end = performance.now() + SECONDS * 1000
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const t = performance.now()
      const r = await get(port, host, '/', agent).catch(() => ({ status: 0, bytes: 0 }))
      if (r.status !== 200) errors++
      else lat.push(performance.now() - t)
    }
  }))
  const cpuUsPerRequest = Object.fromEntries(Object.entries(procs).map(([k, pid]) => {
    const a = cpu0[k]
    const b = pid != null ? cpuSeconds(pid) : null
    return [k, a != null && b != null && lat.length > 0 ? Math.round((b - a) * 1e6 / lat.length) : null]
  }))
  const conns = serviceConnections - conns0
  const syscallsPerRequest = Object.fromEntries(Object.entries(procs).map(([k, pid]) => {
    const a = io0[k]
    const b = pid != null ? syscalls(pid) : null
    const per = (n: number): number => Math.round(n / lat.length * 100) / 100
    return [k, a != null && b != null && lat.length > 0 ? { reads: per(b.reads - a.reads), writes: per(b.writes - a.writes) } : null]
  }))
  lat.sort((a, b) => a - b)
  const pct = (p: number): number => Math.round((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0) * 100) / 100
  const t0 = performance.now()
  const big = await get(port, host, '/big', new Agent())
  const s = (performance.now() - t0) / 1000
  agent.destroy()
  return { requestsPerSecond: Math.round(lat.length / SECONDS), p50Ms: pct(0.5), p99Ms: pct(0.99), errors, downloadMBps: Math.round(big.bytes / 1e6 / s * 10) / 10, cpuUsPerRequest, syscallsPerRequest, serviceConnections: conns }
}

function beam (args: string[], home: string): { proc: ChildProcess, ready: Promise<Record<string, unknown>> } {
  const proc = spawn(process.execPath, [...(PROF != null ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []), join(ROOT, 'bin/beam.js'), ...args, '--json', '--log-level', 'warn'], { env: { ...process.env, BEAM_HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] })
  children.push(proc)
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buf = ''
    const t = setTimeout(() => { reject(new Error(`beam ${args[0] ?? ''} not ready in 30 s`)) }, 30_000)
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buf += s
      for (const line of buf.split('\n').slice(0, -1)) {
        const e = JSON.parse(line) as Record<string, unknown>
        if (e.event === 'ready') { clearTimeout(t); resolve(e) }
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1)
    })
  })
  return { proc, ready }
}

// nginx from Debian when it is missing (as root with apt-get; otherwise the script says so and the node:http proxy stands in)
if (!existsSync('/usr/sbin/nginx')) spawnSync('bash', [join(ROOT, 'scripts/install-bench-deps.sh')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 })

const dir = mkdtempSync(join(tmpdir(), 'beam-bench-gw-'))
try {
  const svc = await service()
  const svcPort = (svc.address() as AddressInfo).port
  const results: Record<string, Figures & { what: string }> = {}
  results.direct = { what: 'the service itself', ...await measure(svcPort, 'localhost') }
  let proxyWhat: string
  let proxyPort: number
  let proxyPid: number | undefined
  if (existsSync('/usr/sbin/nginx')) {
    proxyPort = 18000 + Math.floor(Math.random() * 2000)
    proxyPid = await nginx(dir, svcPort, proxyPort)
    const v = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' })
    proxyWhat = `${`${v.stdout}${v.stderr}`.trim().replace(/^nginx version: /, '') || 'nginx'} reverse proxy, keepalive upstream`
  } else {
    const p = await nodeProxy(svcPort)
    proxyPort = (p.address() as AddressInfo).port
    proxyWhat = 'node:http reverse proxy with a keep-alive agent (nginx is not installed)'
  }
  results.proxy = { what: proxyWhat, ...await measure(proxyPort, 'localhost', proxyPid != null ? { proxy: proxyPid } : {}) }
  if (proxyWhat.startsWith('nginx')) {
    // what Node's own HTTP costs a proxy, without beam: the gateway's floor on this machine
    const p = spawn(process.execPath, [join(ROOT, 'bench/lib/node-proxy.ts'), String(svcPort)], { stdio: ['ignore', 'pipe', 'ignore'] })
    children.push(p)
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('the node:http proxy did not start in 20 s')) }, 20_000)
      p.stdout?.setEncoding('utf8').once('data', (s: string) => { clearTimeout(t); resolve(Number((JSON.parse(s) as { port: number }).port)) })
    })
    results.nodeProxy = { what: 'node:http reverse proxy with a keep-alive agent (its own process)', ...await measure(port, 'localhost', { proxy: p.pid }) }
    p.kill('SIGTERM')
  }
  const gw = beam(['gateway', '--domain', 'gw.test', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--rate', '0', '--max-visitors', '0'], join(dir, 'gw'))
  const gwReady = await gw.ready
  const gwPort = Number(String(gwReady.listen).split(':').pop())
  const sh = beam(['share', String(svcPort), '--gateway', String(gwReady.shareFlag).replace('--gateway ', ''), '--no-default-bootstrap', '--no-dht', '--no-webrtc', '--listen', '/ip4/127.0.0.1/tcp/0'], join(dir, 'share'))
  const shReady = await sh.ready
  const host = `${shareLabel(parsePeerId(String(shReady.peerId)))}.gw.test`
  await waitHttp(gwPort, host)
  results.gateway = { what: 'beam gateway + beam share (processes, direct TCP path, plain HTTP, no limits)', ...await measure(gwPort, host, { gateway: gw.proc.pid, share: sh.proc.pid }) }
  const out = { date: new Date().toISOString(), node: process.versions.node, seconds: SECONDS, concurrency: CONCURRENCY, downloadMiB: MIB, results,
    ratios: { gatewayVsProxyRequests: Math.round(results.gateway.requestsPerSecond / results.proxy.requestsPerSecond * 100) / 100, gatewayVsProxyP99: Math.round(results.gateway.p99Ms / results.proxy.p99Ms * 100) / 100 } }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
  writeFileSync(join(ROOT, 'bench/results/gateway.json'), JSON.stringify(out, null, 2) + '\n')
  console.log(JSON.stringify(out, null, 2))
  svc.closeAllConnections()
  svc.close()
} catch (err) {
  console.error(`bench/gateway: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  stopAll()
  // bounded: the children exit on SIGTERM (writing their CPU profiles, with --cpu-prof)
  await Promise.race([Promise.all(children.map(async c => { if (c.exitCode == null && c.signalCode == null) await new Promise(resolve => c.once('exit', resolve)) })), new Promise(resolve => setTimeout(resolve, 5000))])
  rmSync(dir, { recursive: true, force: true })
  process.exit()
}
