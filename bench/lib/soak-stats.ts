/**
 * The pure half of the soak (bench/soak.ts): reading one process's RSS and
 * open file descriptors from /proc, and turning the samples into the
 * verdict: growth after the warm-up and requests lost. No I/O here except
 * the two /proc readers, so that the arithmetic has unit tests
 * (test/unit/bench/soak-stats.test.ts).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { round } from './stats.ts'

/** One process's figures at one sample. */
export interface ProcSample {
  /** Resident set size, MiB; null when the process was gone. */
  rssMiB: number | null
  /** Open file descriptors; null when the process was gone. */
  fds: number | null
}

/** Load counters of one phase at one sample (cumulative since its ramp began). */
export interface LoadCounters {
  /** Connections or circuits still open. */
  open: number
  /** Requests sent. */
  requests: number
  /** Requests answered and, for the echo, with the bytes that were sent. */
  ok: number
  /** Requests that failed: timeout, wrong bytes, connection closed. */
  errors: number
  /** Requests sent and not yet answered. */
  inFlight: number
}

/** One sample of the soak, every `sampleSeconds`. */
export interface SoakSample {
  /** Seconds since the soak window began (after the ramp). */
  t: number
  /** By process name (tunnel share, tunnel connect, relay, relayed share). */
  procs: Record<string, ProcSample>
  /** By phase name ('tunnel', 'circuits'). */
  load: Record<string, LoadCounters>
  /** 1-minute load average of the machine. */
  load1: number
  /** The relay's /metrics gauges (beam_relay_circuits, _connections, _reservations) at the last scrape. */
  relay?: Record<string, number>
}

/** Growth of one process after the warm-up. */
export interface Growth {
  /** Least-squares slope of RSS over the samples after the warm-up, MiB per minute. */
  rssMiBPerMin: number | null
  /** RSS at the first and the last sample after the warm-up, MiB. */
  rssFirstMiB: number | null
  rssLastMiB: number | null
  rssMaxMiB: number | null
  /** Open fds at the first sample after the warm-up, the last, and the most seen after it. */
  fdsFirst: number | null
  fdsLast: number | null
  fdsMax: number | null
  /** fdsMax - fdsFirst: descriptors that appeared after the warm-up and may not have gone. */
  fdGrowth: number | null
  /** Within the thresholds ({@link FLAT}). */
  flat: boolean
}

/**
 * What counts as flat after the warm-up. 1 MiB/min: at the soak's default
 * request rate (about 600 requests/s over both phases) a leak of 30 bytes
 * per request would cross it; the sawtooth of V8's heap over the 8 minutes
 * after a 2-minute warm-up stays well below (the slope fits every sample,
 * not the ends). 10 fds: a few come and go (the relay's reservation refresh,
 * metrics scrapes), a leak of one per connection or circuit would be
 * hundreds.
 */
export const FLAT = { rssMiBPerMin: 1, fds: 10 } as const

/** VmRSS of a /proc/<pid>/status text, in MiB; null when absent. */
export function parseVmRss (status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  return m != null ? Number(m[1]) / 1024 : null
}

/** RSS and open fds of a running process, read from /proc; nulls when it is gone. */
export function readProc (pid: number): ProcSample {
  let rssMiB: number | null = null
  let fds: number | null = null
  try { rssMiB = parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8')) } catch {}
  try { fds = readdirSync(`/proc/${pid}/fd`).length } catch {}
  return { rssMiB, fds }
}

/** Least-squares slope of y over x; null with fewer than 2 points or no spread in x. */
export function slope (points: Array<[number, number]>): number | null {
  const n = points.length
  if (n < 2) return null
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) { num += (x - mx) * (y - my); den += (x - mx) ** 2 }
  return den === 0 ? null : num / den
}

/** Growth of process `name` over the samples at or after `warmupSeconds`. */
export function growthOf (samples: SoakSample[], name: string, warmupSeconds: number): Growth {
  const after = samples.filter(s => s.t >= warmupSeconds)
  const rss = after.flatMap(s => { const r = s.procs[name]?.rssMiB; return r != null ? [[s.t / 60, r] as [number, number]] : [] })
  const fds = after.flatMap(s => { const f = s.procs[name]?.fds; return f != null ? [f] : [] })
  const perMin = slope(rss)
  const fdsFirst = fds[0] ?? null
  const fdsMax = fds.length > 0 ? Math.max(...fds) : null
  const fdGrowth = fdsFirst != null && fdsMax != null ? fdsMax - fdsFirst : null
  // a process that vanished, or too few samples to judge, is not flat
  const flat = perMin != null && rss.length >= 3 && perMin <= FLAT.rssMiBPerMin && fdGrowth != null && fdGrowth <= FLAT.fds && rss.length === after.length
  return {
    rssMiBPerMin: round(perMin, 3),
    rssFirstMiB: round(rss[0]?.[1], 1),
    rssLastMiB: round(rss.at(-1)?.[1], 1),
    rssMaxMiB: rss.length > 0 ? round(Math.max(...rss.map(p => p[1])), 1) : null,
    fdsFirst,
    fdsLast: fds.at(-1) ?? null,
    fdsMax,
    fdGrowth,
    flat
  }
}

/** Totals of one phase at the end and whether anything was lost. */
export interface PhaseVerdict {
  /** Connections or circuits the ramp opened, and how many were asked for. */
  wanted: number
  opened: number
  /** Still open at the end. */
  openAtEnd: number
  requests: number
  ok: number
  errors: number
  /** Sent and never answered correctly: requests - ok - in flight at the end. */
  lost: number
  /** Sent and still unanswered at the end (the circuit drivers keep asking until stopped). */
  inFlight: number
  /** Everything opened, still open, and lost = 0. */
  pass: boolean
}

/** The verdict of one phase from its last counters. */
export function phaseVerdict (wanted: number, opened: number, last: LoadCounters | undefined): PhaseVerdict {
  const c = last ?? { open: 0, requests: 0, ok: 0, errors: 0, inFlight: 0 }
  const lost = c.requests - c.ok - c.inFlight
  return { wanted, opened, openAtEnd: c.open, requests: c.requests, ok: c.ok, errors: c.errors, lost, inFlight: c.inFlight, pass: opened === wanted && c.open === wanted && lost === 0 && c.requests > 0 }
}

/** The warm-up excluded from the growth figures: 20 % of the window, at least one sample, at most 2 minutes. */
export function warmupFor (minutes: number, sampleSeconds: number): number {
  return Math.max(sampleSeconds, Math.min(120, Math.round(minutes * 60 * 0.2)))
}
