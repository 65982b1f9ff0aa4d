/**
 * The small-request part of the benchmark (`node bench/run.ts --only small`):
 * for each scenario, requests per second of small echoes on one keep-alive
 * connection, on several at once, pipelined (Redis-style), and of HTTP
 * requests on a new connection each; and the CPU each tunnel process used
 * per request, from /proc.
 */
import { cpuSeconds } from './procs.ts'
import type { Running } from './scenarios.ts'
import { echoRate, newConnectionRate } from './small.ts'
import type { RateResult } from './small.ts'
import { round } from './stats.ts'

/** Settings of the small-request measurements. */
export interface SmallSettings {
  /** Seconds each measurement runs. */
  seconds: number
  /** Bytes per echoed request. */
  size: number
  /** Keep-alive connections of the concurrent case. */
  connections: number
  /** Messages in flight per connection in the pipelined case. */
  depth: number
  /** Clients at once in the new-connection case. */
  newConnectionWorkers: number
  /** The cases to run. */
  cases: readonly SmallCase[]
}

/** Seconds of each case run before it is measured. */
const WARM_UP_SECONDS = 1

export const SMALL_CASES = ['keepAlive', 'concurrent', 'pipelined', 'newConnection'] as const
export type SmallCase = typeof SMALL_CASES[number]

export const SMALL_CASE_LABELS: Record<SmallCase, string> = {
  keepAlive: 'keep-alive echo, 1 connection',
  concurrent: 'keep-alive echo, concurrent connections',
  pipelined: 'pipelined echo (Redis-style)',
  newConnection: 'HTTP, new connection each'
}

/** One case in one round: requests per second and CPU µs per request of each tunnel process. */
export interface SmallFigure {
  perSecond: number
  requests: number
  /** CPU microseconds per request, by role (share, connect, relay). */
  cpuUsPerRequest: Record<string, number>
}

export type SmallRound = Partial<Record<SmallCase, SmallFigure | { error: string }>>

async function withCpu (run: Running, fn: () => Promise<RateResult>): Promise<SmallFigure> {
  const procs = Object.entries(run.procs).filter(e => e[1] != null)
  const before = procs.map(([, p]) => cpuSeconds(p.pid) ?? 0)
  const r = await fn()
  const after = procs.map(([, p]) => cpuSeconds(p.pid) ?? 0)
  const cpu: Record<string, number> = {}
  procs.forEach(([role], i) => { cpu[role] = round(((after[i] ?? 0) - (before[i] ?? 0)) * 1e6 / Math.max(1, r.requests), 1) ?? 0 })
  return { perSecond: round(r.perSecond, 0) ?? 0, requests: r.requests, cpuUsPerRequest: cpu }
}

/** Every small-request case against one running scenario. */
export async function measureSmall (run: Running, s: SmallSettings, cases: readonly SmallCase[] = SMALL_CASES): Promise<SmallRound> {
  const once = async (c: SmallCase, seconds: number): Promise<RateResult> => {
    switch (c) {
      case 'keepAlive': return await echoRate(run.port, { seconds, size: s.size, connections: 1, depth: 1 })
      case 'concurrent': return await echoRate(run.port, { seconds, size: s.size, connections: s.connections, depth: 1 })
      case 'pipelined': return await echoRate(run.port, { seconds, size: s.size, connections: 1, depth: s.depth })
      case 'newConnection': return await newConnectionRate(run.port, { seconds, workers: s.newConnectionWorkers })
    }
  }
  const out: SmallRound = {}
  for (const c of cases) {
    try {
      // a second of the same load first, not counted: a freshly started beam
      // process still compiles its hot paths (V8's optimising compiler was
      // ~13 % of a share's CPU in its first seconds), the forwarder has little to compile
      await once(c, WARM_UP_SECONDS)
      out[c] = await withCpu(run, async () => await once(c, s.seconds))
    } catch (err) {
      out[c] = { error: (err as Error).message.slice(0, 300) }
    }
  }
  return out
}
