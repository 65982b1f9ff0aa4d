/**
 * From rounds to figures: the median of every metric over the rounds, and
 * ratios to raw TCP and to holesail computed within each round (the machine
 * is shared and noisy: a slow round slows the baseline too) before the median.
 */
import { median } from './stats.ts'
import type { Role, ScenarioName } from './scenarios.ts'

/** Everything measured for one scenario in one round. */
export interface ScenarioRound {
  /** The path beam reported (beam scenarios). */
  path?: Record<string, unknown>
  coldMs: number | null
  /** Cold start against a share on its default listen addresses (beam-tcp), in ms. */
  coldDefaultMs?: number | null
  /** Cold start against a loopback-only share, measured next to coldDefaultMs (beam-tcp), in ms. */
  coldPairLoopbackMs?: number | null
  warmMs: number | null
  uploadMBps: number
  downloadMBps: number
  /** With --verify: SHA-256 of both transfers matched. */
  verified?: boolean
  keepAlive: { ok: number, failed: number, p50Ms: number, p99Ms: number }
  newConnection: { ok: number, failed: number, p50Ms: number, p99Ms: number }
  concurrency: { connections: number, succeeded: number, failed: number, mbps: number, seconds: number, error?: string } | null
  /** RSS in MiB by role: idle (after start), peak during the bulk transfers, peak during the concurrency test. */
  rssIdleMiB: Partial<Record<Role, number>>
  rssLoadMiB: Partial<Record<Role, number>>
  rssConcurrentMiB?: Partial<Record<Role, number>>
  /** CPU seconds per GiB moved during the bulk transfers, by role and in total. */
  cpuPerGiB: Partial<Record<Role | 'total', number>>
  /** When some concurrent connections failed: each process's last log lines. */
  logs?: Record<string, string[]>
}

export type RoundResult = ScenarioRound | { error: string, logs?: Record<string, string[]> }

export interface Round {
  round: number
  seconds: number
  results: Partial<Record<ScenarioName, RoundResult>>
}

/** Metrics summarised per scenario (medians over the rounds that measured them). */
export const METRICS = {
  uploadMBps: (r: ScenarioRound) => r.uploadMBps,
  downloadMBps: (r: ScenarioRound) => r.downloadMBps,
  keepAliveP50Ms: (r: ScenarioRound) => r.keepAlive.p50Ms,
  keepAliveP99Ms: (r: ScenarioRound) => r.keepAlive.p99Ms,
  newConnP50Ms: (r: ScenarioRound) => r.newConnection.p50Ms,
  newConnP99Ms: (r: ScenarioRound) => r.newConnection.p99Ms,
  coldMs: (r: ScenarioRound) => r.coldMs,
  coldDefaultMs: (r: ScenarioRound) => r.coldDefaultMs ?? null,
  coldPairLoopbackMs: (r: ScenarioRound) => r.coldPairLoopbackMs ?? null,
  warmMs: (r: ScenarioRound) => r.warmMs,
  concurrentOk: (r: ScenarioRound) => r.concurrency?.succeeded ?? null,
  concurrentMBps: (r: ScenarioRound) => r.concurrency?.mbps ?? null,
  rssIdleShareMiB: (r: ScenarioRound) => r.rssIdleMiB.share ?? null,
  rssIdleConnectMiB: (r: ScenarioRound) => r.rssIdleMiB.connect ?? null,
  rssIdleRelayMiB: (r: ScenarioRound) => r.rssIdleMiB.relay ?? null,
  rssLoadShareMiB: (r: ScenarioRound) => r.rssLoadMiB.share ?? null,
  rssLoadConnectMiB: (r: ScenarioRound) => r.rssLoadMiB.connect ?? null,
  rssLoadRelayMiB: (r: ScenarioRound) => r.rssLoadMiB.relay ?? null,
  rssConcShareMiB: (r: ScenarioRound) => r.rssConcurrentMiB?.share ?? null,
  rssConcConnectMiB: (r: ScenarioRound) => r.rssConcurrentMiB?.connect ?? null,
  rssConcRelayMiB: (r: ScenarioRound) => r.rssConcurrentMiB?.relay ?? null,
  cpuPerGiB: (r: ScenarioRound) => r.cpuPerGiB.total ?? null,
  cpuSharePerGiB: (r: ScenarioRound) => r.cpuPerGiB.share ?? null,
  cpuConnectPerGiB: (r: ScenarioRound) => r.cpuPerGiB.connect ?? null,
  cpuRelayPerGiB: (r: ScenarioRound) => r.cpuPerGiB.relay ?? null
} satisfies Record<string, (r: ScenarioRound) => number | null>

export type MetricName = keyof typeof METRICS

/** Ratios computed per round, then the median. */
export const RATIOS = ['uploadVsRaw', 'downloadVsRaw', 'uploadVsStock', 'downloadVsStock', 'uploadVsHolesail', 'downloadVsHolesail', 'uploadVsForwarder', 'downloadVsForwarder', 'keepAliveP50VsForwarder', 'newConnP50VsForwarder'] as const
export type RatioName = typeof RATIOS[number]

export interface ScenarioSummary {
  rounds: number
  errors: string[]
  median: Partial<Record<MetricName, number>>
  ratio: Partial<Record<RatioName, number>>
}

function ok (r: RoundResult | undefined): r is ScenarioRound {
  return r != null && !('error' in r)
}

export function summarise (rounds: Round[], scenarios: ScenarioName[]): Partial<Record<ScenarioName, ScenarioSummary>> {
  const out: Partial<Record<ScenarioName, ScenarioSummary>> = {}
  for (const name of scenarios) {
    const measured = rounds.map(r => r.results[name]).filter(ok)
    const errors = rounds.map(r => r.results[name]).filter((r): r is { error: string } => r != null && 'error' in r).map(r => r.error)
    const med: Partial<Record<MetricName, number>> = {}
    for (const [metric, get] of Object.entries(METRICS) as Array<[MetricName, (r: ScenarioRound) => number | null]>) {
      const xs = measured.map(get).filter((x): x is number => x != null && Number.isFinite(x))
      if (xs.length > 0) med[metric] = median(xs)
    }
    const ratio: Partial<Record<RatioName, number>> = {}
    const per = (f: (own: ScenarioRound, round: Round) => number | null): number | undefined => {
      const xs = rounds.flatMap(round => {
        const own = round.results[name]
        if (!ok(own)) return []
        const v = f(own, round)
        return v != null && Number.isFinite(v) ? [v] : []
      })
      return xs.length > 0 ? median(xs) : undefined
    }
    const base = (round: Round, s: ScenarioName): ScenarioRound | undefined => {
      const r = round.results[s]
      return ok(r) ? r : undefined
    }
    const set = (k: RatioName, v: number | undefined): void => { if (v != null) ratio[k] = v }
    set('uploadVsRaw', per((o, r) => { const b = base(r, 'raw-tcp'); return b != null ? o.uploadMBps / b.uploadMBps : null }))
    set('downloadVsRaw', per((o, r) => { const b = base(r, 'raw-tcp'); return b != null ? o.downloadMBps / b.downloadMBps : null }))
    set('uploadVsHolesail', per((o, r) => { const b = base(r, 'holesail'); return b != null ? o.uploadMBps / b.uploadMBps : null }))
    set('downloadVsHolesail', per((o, r) => { const b = base(r, 'holesail'); return b != null ? o.downloadMBps / b.downloadMBps : null }))
    set('uploadVsStock', per((o, r) => { const b = base(r, 'libp2p-stock'); return b != null ? o.uploadMBps / b.uploadMBps : null }))
    set('downloadVsStock', per((o, r) => { const b = base(r, 'libp2p-stock'); return b != null ? o.downloadMBps / b.downloadMBps : null }))
    set('uploadVsForwarder', per((o, r) => { const b = base(r, 'forwarder'); return b != null ? o.uploadMBps / b.uploadMBps : null }))
    set('downloadVsForwarder', per((o, r) => { const b = base(r, 'forwarder'); return b != null ? o.downloadMBps / b.downloadMBps : null }))
    set('keepAliveP50VsForwarder', per((o, r) => { const b = base(r, 'forwarder'); return b != null ? o.keepAlive.p50Ms / b.keepAlive.p50Ms : null }))
    set('newConnP50VsForwarder', per((o, r) => { const b = base(r, 'forwarder'); return b != null ? o.newConnection.p50Ms / b.newConnection.p50Ms : null }))
    out[name] = { rounds: measured.length, errors, median: med, ratio }
  }
  return out
}
