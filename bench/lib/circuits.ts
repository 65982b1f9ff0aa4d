/**
 * The relayed-circuits scenario: how many concurrent relayed circuits one
 * `beam relay` carries, and at what RSS. One `beam relay` and one public
 * `beam share` (no listener: reachable only through its reservation on the
 * relay), then driver processes (circuit-driver.ts) that each start many
 * in-process connector nodes, each a distinct peer with its own circuit
 * through the relay and one tunnel that answered one HTTP request. The
 * relay's RSS is read from /proc at full load (and its peak sampled during
 * the ramp); its /metrics gauges cross-check the count.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RssSampler, beam, rssMiB, script } from './procs.ts'
import type { JsonEvent, Proc } from './procs.ts'
import { round } from './stats.ts'

/** Settings of the scenario. */
export interface CircuitsOptions {
  /** Circuits to open (distinct connecting peers). */
  circuits: number
  /** Port of the shared service (service.ts). */
  servicePort: number
  /** Driver processes the connectors are spread over. @default min(4, ceil(circuits / 50)) */
  drivers?: number
  /**
   * Connectors each driver starts at once. The relay's libp2p resets inbound
   * connections past MAX_INCOMING_PENDING_CONNECTIONS (64) upgrades at once,
   * and each connector opens two connections (relay, then the circuit), so
   * the ramp keeps at most 8 connectors in flight: it measures what the relay
   * holds, not how fast a burst can be accepted. @default max(1, floor(8 / drivers))
   */
  batch?: number
  /** Bound on one connector's dial + tunnel + first request, in ms. @default 45000 */
  connectTimeoutMs?: number
  /** Bound on the whole ramp, in ms. @default 420000 */
  rampTimeoutMs?: number
}

/** What the scenario measured (bench/results JSON: `circuits`). */
export interface CircuitsResult {
  attempted: number
  /** Tunnels that answered their first request and were open at the end of the ramp. */
  up: number
  failed: number
  /** Of `up`, still answering a second request once all were up. */
  recheckOk: number | null
  /** Most tunnels up at once during the ramp (sum of each driver's highest count). */
  upPeak: number
  /** Connector nodes that still had a libp2p connection to the share at the end of the ramp. */
  connected: number
  /** Tunnels that answered once and failed a later request, with the first reasons. */
  dropped: number
  dropErrors: string[]
  /** Highest relay gauges seen during the ramp (polled every 2 s). */
  relayGaugesPeak: { circuits: number, connections: number }
  /** Failure reasons with their counts, and the first few in full. */
  errors: Record<string, number>
  firstErrors: string[]
  rampSeconds: number
  drivers: number
  /** The relay's /metrics at full load. */
  relayGauges: { circuits: number | null, connections: number | null, reservations: number | null, refusals: Record<string, number> }
  relayRssIdleMiB: number | null
  relayRssAtLoadMiB: number | null
  relayRssPeakMiB: number | null
  /** (RSS at load - idle RSS) / circuits up. */
  relayKiBPerCircuit: number | null
  shareRssIdleMiB: number | null
  shareRssAtLoadMiB: number | null
  shareRssPeakMiB: number | null
  /** RSS of each driver process at full load (connector nodes in-process). */
  driverRssMiB: number[]
  /** The relay's circuit limits as it reported them at start. */
  relayLimits: Record<string, unknown> | null
  /** Node/V8 flags the relay ran with (its `ready` event's runtime.flags); absent in older results. */
  relayFlags?: string[] | null
  error?: string
}

async function scrape (url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text()
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue
      const i = line.lastIndexOf(' ')
      out.set(line.slice(0, i), Number(line.slice(i + 1)))
    }
  } catch {}
  return out
}

const num = (x: unknown): number => typeof x === 'number' ? x : 0

/** Run the scenario; every process it starts is stopped by PID before it returns. */
export async function runCircuits (opts: CircuitsOptions, log: (line: string) => void = () => {}): Promise<CircuitsResult> {
  const n = opts.circuits
  const drivers = Math.max(1, Math.min(opts.drivers ?? 4, Math.ceil(n / 50)))
  const batch = opts.batch ?? Math.max(1, Math.floor(8 / drivers))
  const connectTimeoutMs = opts.connectTimeoutMs ?? 45_000
  const rampTimeoutMs = opts.rampTimeoutMs ?? 420_000
  const procs: Proc[] = []
  const homes: string[] = []
  const res: CircuitsResult = {
    attempted: n, up: 0, failed: n, recheckOk: null, upPeak: 0, connected: 0, dropped: 0, dropErrors: [], relayGaugesPeak: { circuits: 0, connections: 0 }, errors: {}, firstErrors: [], rampSeconds: 0, drivers,
    relayGauges: { circuits: null, connections: null, reservations: null, refusals: {} },
    relayRssIdleMiB: null, relayRssAtLoadMiB: null, relayRssPeakMiB: null, relayKiBPerCircuit: null,
    shareRssIdleMiB: null, shareRssAtLoadMiB: null, shareRssPeakMiB: null, driverRssMiB: [], relayLimits: null, relayFlags: null
  }
  const mkHome = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'beam-bench-circuits-')); homes.push(d); return d }
  try {
    // every connecting peer comes from 127.0.0.1: the per-address caps, which
    // a relay needs on the internet, would stop this scenario at 64 circuits
    const relay = beam('relay', ['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--metrics', '127.0.0.1:0', '--ephemeral',
      '--max-circuits-per-ip', '0', '--max-circuits-per-subnet', '0'], await mkHome())
    procs.push(relay)
    const rr = await relay.waitFor('ready', 40_000)
    const relayAddr = ((rr.multiaddrs as string[]) ?? [])[0] ?? ''
    const metricsUrl = String(rr.metrics)
    res.relayLimits = (rr.limits as Record<string, unknown>) ?? null
    res.relayFlags = (rr.runtime as { flags?: string[] } | undefined)?.flags ?? null
    const share = beam('share', ['share', String(opts.servicePort), '--public', '--no-listen', '--no-webrtc', '--no-default-bootstrap', '--ephemeral', '--bootstrap', relayAddr], await mkHome())
    procs.push(share)
    const sr = await share.waitFor('ready', 40_000)
    const target = String(sr.connect)
    if (!target.includes('p2p-circuit') && !((sr.multiaddrs as string[]) ?? []).some(m => m.includes('p2p-circuit'))) throw new Error('the share holds no relay reservation')
    await new Promise(resolve => setTimeout(resolve, 500))
    res.relayRssIdleMiB = round(rssMiB(relay.pid) ?? NaN, 1)
    res.shareRssIdleMiB = round(rssMiB(share.pid) ?? NaN, 1)

    const sampler = new RssSampler({ relay: relay.pid, share: share.pid }, 250)
    const gaugePoll = setInterval(() => {
      void scrape(metricsUrl).then(g => {
        res.relayGaugesPeak.circuits = Math.max(res.relayGaugesPeak.circuits, g.get('beam_relay_circuits') ?? 0)
        res.relayGaugesPeak.connections = Math.max(res.relayGaugesPeak.connections, g.get('beam_relay_connections') ?? 0)
      })
    }, 2000)
    const t0 = performance.now()
    const ds: Proc[] = []
    for (let i = 0; i < drivers; i++) {
      const count = Math.floor(n / drivers) + (i < n % drivers ? 1 : 0)
      const d = script(`circuit driver ${i + 1}`, 'circuit-driver.ts', [target, String(count), String(batch), String(connectTimeoutMs)])
      procs.push(d); ds.push(d)
    }
    const readies: JsonEvent[] = []
    let lastLog = 0
    const rampDeadline = Date.now() + rampTimeoutMs
    for (const d of ds) {
      const left = Math.max(1000, rampDeadline - Date.now())
      // progress lines while waiting
      const waiting = d.waitFor('ready', left)
      const ticker = setInterval(() => {
        const ups = ds.map(x => num([...x.events].reverse().find(e => e.event === 'progress')?.up))
        const now = performance.now()
        if (now - lastLog > 10_000) { lastLog = now; log(`circuits: ${ups.reduce((a, b) => a + b, 0)}/${n} up after ${((now - t0) / 1000).toFixed(0)} s`) }
      }, 1000)
      try { readies.push(await waiting) } catch (err) {
        res.firstErrors.push(`${d.name}: ${(err as Error).message.slice(0, 300)}`)
      } finally { clearInterval(ticker) }
    }
    clearInterval(gaugePoll)
    res.upPeak = ds.reduce((a, d) => a + Math.max(0, ...d.events.filter(e => e.event === 'progress').map(e => num(e.up))), 0)
    res.rampSeconds = round((performance.now() - t0) / 1000, 1) ?? 0
    await new Promise(resolve => setTimeout(resolve, 1000))
    res.relayRssAtLoadMiB = round(rssMiB(relay.pid) ?? NaN, 1)
    res.shareRssAtLoadMiB = round(rssMiB(share.pid) ?? NaN, 1)
    res.driverRssMiB = ds.map(d => round(rssMiB(d.pid) ?? NaN, 1) ?? 0)
    const m = await scrape(metricsUrl)
    const refusals: Record<string, number> = {}
    for (const [k, v] of m) { const r = /^beam_relay_refusals_total\{reason="(.+)"\}$/.exec(k); if (r?.[1] != null && v > 0) refusals[r[1]] = v }
    res.relayGauges = { circuits: m.get('beam_relay_circuits') ?? null, connections: m.get('beam_relay_connections') ?? null, reservations: m.get('beam_relay_reservations') ?? null, refusals }
    res.up = readies.reduce((a, e) => a + num(e.up), 0)
    res.failed = n - res.up
    res.connected = readies.reduce((a, e) => a + num(e.connected), 0)
    res.dropped = readies.reduce((a, e) => a + num(e.dropped), 0)
    for (const e of readies) for (const f of (e.dropErrors as string[]) ?? []) if (res.dropErrors.length < 5) res.dropErrors.push(f)
    for (const e of readies) {
      for (const [k, v] of Object.entries((e.errors as Record<string, number>) ?? {})) res.errors[k] = (res.errors[k] ?? 0) + v
      for (const f of (e.firstErrors as string[]) ?? []) if (res.firstErrors.length < 5) res.firstErrors.push(f)
    }
    // every tunnel once more, now that all are up at once
    const before = ds.map(d => d.events.filter(e => e.event === 'recheck').length)
    for (const d of ds) { try { process.kill(d.pid, 'SIGUSR2') } catch {} }
    let ok = 0
    for (const [i, d] of ds.entries()) {
      try {
        const e = await d.waitFor('recheck', connectTimeoutMs + 10_000, () => d.events.filter(x => x.event === 'recheck').length > (before[i] ?? 0))
        ok += num(e.ok)
      } catch {}
    }
    res.recheckOk = ok
    // each driver's latest count (recheck, else ready) of tunnels that stopped answering
    res.dropped = ds.reduce((a, d) => a + num([...d.events].reverse().find(e => e.event === 'recheck' || e.event === 'ready')?.dropped), 0)
    const peaks = sampler.stop()
    res.relayRssPeakMiB = round(peaks.relay ?? NaN, 1)
    res.shareRssPeakMiB = round(peaks.share ?? NaN, 1)
    if (res.up > 0 && res.relayRssAtLoadMiB != null && res.relayRssIdleMiB != null) {
      res.relayKiBPerCircuit = round((res.relayRssAtLoadMiB - res.relayRssIdleMiB) * 1024 / res.up, 1)
    }
    log(`circuits: ${res.up}/${n} up at the end (most at once ${res.upPeak}, recheck ${ok}), relay gauge ${String(res.relayGauges.circuits)} (peak ${res.relayGaugesPeak.circuits}), relay RSS ${String(res.relayRssAtLoadMiB)} MiB (peak ${String(res.relayRssPeakMiB)}), ramp ${res.rampSeconds} s`)
  } catch (err) {
    res.error = (err as Error).message.slice(0, 500)
  } finally {
    // drivers first (they close their tunnels), then share, then relay
    for (const p of [...procs].reverse()) await p.stop(12_000).catch(() => {})
    for (const h of homes) await rm(h, { recursive: true, force: true }).catch(() => {})
  }
  return res
}
