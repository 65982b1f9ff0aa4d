/**
 * The gateway figures of `npm run bench`: runs bench/gateway.ts (beam
 * gateway + share against nginx as a plain reverse proxy, same service,
 * same run) as its own process and reads what it wrote. A separate process,
 * so that its load generator and nginx start and end with it.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** One side's figures (bench/gateway.ts `results.*`). */
export interface GatewayFigures {
  what: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  downloadMBps: number
  /** CPU µs per keep-alive request of each process of the path (from /proc), where measured. */
  cpuUsPerRequest?: Record<string, number | null>
}

/** bench/results/gateway.json, or an error when the run failed. */
export interface GatewayResult {
  date?: string
  seconds?: number
  concurrency?: number
  downloadMiB?: number
  /** `nodeProxy`: a node:http proxy process, measured beside nginx (what Node's HTTP alone costs a proxy). */
  results?: { direct: GatewayFigures, proxy: GatewayFigures, nodeProxy?: GatewayFigures, gateway: GatewayFigures }
  ratios?: { gatewayVsProxyRequests: number, gatewayVsProxyP99: number }
  error?: string
}

/** Run bench/gateway.ts with these settings; at most `timeoutMs` (default 180 s). */
export async function runGateway (opts: { seconds: number, mib: number, concurrency?: number, timeoutMs?: number }, log: (s: string) => void): Promise<GatewayResult> {
  const file = join(ROOT, 'bench', 'results', 'gateway.json')
  rmSync(file, { force: true })
  const args = [join(ROOT, 'bench', 'gateway.ts'), '--seconds', String(opts.seconds), '--mib', String(opts.mib), ...(opts.concurrency != null ? ['--concurrency', String(opts.concurrency)] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-2000) })
  const code = await new Promise<number | null>(resolve => {
    const t = setTimeout(() => { child.kill('SIGTERM') }, opts.timeoutMs ?? 180_000)
    child.on('exit', c => { clearTimeout(t); resolve(c) })
  })
  if (!existsSync(file)) return { error: `bench/gateway.ts exited with ${String(code)} and wrote nothing: ${stderr.trim().split('\n').slice(-3).join(' | ')}` }
  const res = JSON.parse(readFileSync(file, 'utf8')) as GatewayResult
  const r = res.results
  if (r != null) log(`gateway: ${r.gateway.requestsPerSecond} req/s p50 ${r.gateway.p50Ms} ms p99 ${r.gateway.p99Ms} ms, download ${r.gateway.downloadMBps} MB/s; proxy (${r.proxy.what.slice(0, 40)}) ${r.proxy.requestsPerSecond} req/s p50 ${r.proxy.p50Ms} ms p99 ${r.proxy.p99Ms} ms, ${r.proxy.downloadMBps} MB/s`)
  return res
}
