/**
 * `npm run bench`: every scenario measured in the same run, several rounds,
 * medians and same-round ratios, written to bench/results/latest.json; then
 * `node bench/report.ts` turns that file into docs/benchmarks.md and
 * docs/benchmarks.svg. Everything runs on 127.0.0.1, every process is killed
 * by its PID, every wait is bounded.
 *
 *   node bench/run.ts [--quick | --tiny] [--rounds N] [--size MiB] [--scenarios a,b]
 *                     [--requests N] [--concurrency N] [--verify] [--out FILE] [--no-report]
 *                     [--cpu-prof DIR]   (V8 CPU profiles of every beam process, for flame graphs)
 *                     [--circuits N]     (relayed circuits through one beam relay; 0 = skip)
 *                     [--only circuits]  (that scenario alone, to bench/results/circuits.json)
 *                     [--only cold]      (cold starts only: --rounds pairs (default 8) of a loopback-only
 *                                         share and a share on its default listen addresses, alternating,
 *                                         to bench/results/cold-<mode>.json)
 *                     [--only small]     (small requests only: keep-alive, concurrent and pipelined echoes
 *                                         and new-connection HTTP, req/s and CPU µs per request, for
 *                                         --scenarios (default forwarder,beam-tcp,holesail), --rounds rounds,
 *                                         --seconds each (default 3), --cases (default all:
 *                                         keepAlive,concurrent,pipelined,newConnection),
 *                                         to bench/results/small-<mode>.json; a full or quick run
 *                                         measures them too, after the rounds; --no-small skips it)
 *                     [--only gateway]   (beam gateway + share against nginx as a plain reverse proxy:
 *                                         bench/gateway.ts, to bench/results/gateway.json; a full or
 *                                         quick run does it too, after the rounds; --no-gateway skips it)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { concurrent, download, latency, upload } from './lib/load.ts'
import { RssSampler, cpuSeconds, killAll, profileBeamInto, rssMiB, script } from './lib/procs.ts'
import type { Proc } from './lib/procs.ts'
import { SCENARIOS, SCENARIO_LABELS, coldPair, startScenario } from './lib/scenarios.ts'
import { runCircuits } from './lib/circuits.ts'
import type { CircuitsResult } from './lib/circuits.ts'
import type { ColdStart, Infra, Role, Running, ScenarioName, WarmNode } from './lib/scenarios.ts'
import { median, round } from './lib/stats.ts'
import { machineInfo } from './lib/machine.ts'
import { SMALL_CASES, SMALL_CASE_LABELS, measureSmall } from './lib/small-run.ts'
import type { SmallFigure, SmallRound, SmallSettings } from './lib/small-run.ts'
import { summarise } from './lib/summary.ts'
import { runGateway } from './lib/gateway-run.ts'
import type { GatewayResult } from './lib/gateway-run.ts'
import type { Round, RoundResult, ScenarioRound } from './lib/summary.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MiB = 1024 * 1024

/** Settings of one run; each mode fills every field. */
export interface BenchSettings {
  mode: 'full' | 'quick' | 'tiny'
  rounds: number
  /** Bytes per bulk transfer, each direction. */
  size: number
  /** Sequential HTTP requests per latency figure. */
  requests: number
  /** Connections opened at once, and bytes each downloads. */
  concurrency: number
  concurrentEach: number
  /** Warm dial samples per round. */
  warmSamples: number
  /** Check SHA-256 of the bulk transfers (costs CPU on the driver). */
  verify: boolean
  scenarios: ScenarioName[]
  /**
   * Time budget of the whole run, in seconds: a round is started only if,
   * at the pace of the slowest round so far, it ends within the budget.
   */
  budgetSeconds: number
  /** Concurrent relayed circuits through one `beam relay` (distinct connecting peers); 0 = skip. */
  circuits: number
  /** Run only the circuits scenario (no rounds). */
  onlyCircuits: boolean
  /** Run only cold-start pairs (loopback-only vs default listen), `rounds` of them; 0 = not this mode. */
  onlyColdPairs: number
  /** Run only the small-request cases (`--only small`). */
  onlySmall: boolean
  /** Settings of the small-request cases. */
  small: SmallSettings
  /** Run bench/gateway.ts after the rounds (beam gateway vs nginx); its seconds per load figure, 0 = skip. */
  gatewaySeconds: number
  /** Run only the gateway figures (`--only gateway`). */
  onlyGateway: boolean
  /** Measure the small-request cases after the rounds (forwarder, beam-tcp, holesail), `rounds` rounds; false with `--no-small`. */
  smallAfter: boolean
}

const SMALL: SmallSettings = { seconds: 3, size: 64, connections: 16, depth: 32, newConnectionWorkers: 8, cases: SMALL_CASES }

const MODES: Record<BenchSettings['mode'], Omit<BenchSettings, 'mode'>> = {
  full: { rounds: 3, size: 256 * MiB, requests: 200, concurrency: 1000, concurrentEach: 64 * 1024, warmSamples: 5, verify: false, scenarios: [...SCENARIOS], budgetSeconds: 570, circuits: 1000, onlyCircuits: false, onlyColdPairs: 0, onlySmall: false, small: SMALL, gatewaySeconds: 5, onlyGateway: false, smallAfter: true },
  quick: { rounds: 1, size: 16 * MiB, requests: 50, concurrency: 200, concurrentEach: 64 * 1024, warmSamples: 2, verify: false, scenarios: [...SCENARIOS], budgetSeconds: 120, circuits: 50, onlyCircuits: false, onlyColdPairs: 0, onlySmall: false, small: SMALL, gatewaySeconds: 3, onlyGateway: false, smallAfter: true },
  tiny: { rounds: 1, size: 2 * MiB, requests: 10, concurrency: 20, concurrentEach: 16 * 1024, warmSamples: 1, verify: true, scenarios: ['raw-tcp', 'forwarder', 'beam-tcp'], budgetSeconds: 120, circuits: 0, onlyCircuits: false, onlyColdPairs: 0, onlySmall: false, small: { ...SMALL, seconds: 1 }, gatewaySeconds: 0, onlyGateway: false, smallAfter: false }
}

function parseSettings (argv: string[]): { settings: BenchSettings, out: string, report: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      tiny: { type: 'boolean' },
      rounds: { type: 'string' },
      size: { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      scenarios: { type: 'string' },
      verify: { type: 'boolean' },
      out: { type: 'string' },
      'no-report': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      circuits: { type: 'string' },
      only: { type: 'string' },
      seconds: { type: 'string' },
      cases: { type: 'string' },
      'no-gateway': { type: 'boolean' },
      'no-small': { type: 'boolean' }
    },
    strict: true
  })
  const mode: BenchSettings['mode'] = values.tiny === true ? 'tiny' : values.quick === true ? 'quick' : 'full'
  const s: BenchSettings = { mode, ...MODES[mode] }
  const int = (v: string | undefined, what: string, min: number, max: number): number | undefined => {
    if (v == null) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what}: expected a whole number from ${min} to ${max}`)
    return n
  }
  s.rounds = int(values.rounds, 'rounds', 1, 20) ?? s.rounds
  s.size = (int(values.size, 'size (MiB)', 1, 4096) ?? s.size / MiB) * MiB
  s.requests = int(values.requests, 'requests', 1, 100_000) ?? s.requests
  s.concurrency = int(values.concurrency, 'concurrency', 0, 10_000) ?? s.concurrency
  if (values.verify === true) s.verify = true
  s.circuits = int(values.circuits, 'circuits', 0, 5000) ?? s.circuits
  if (values.only === 'cold') {
    s.onlyColdPairs = int(values.rounds, 'rounds', 1, 50) ?? 8
    s.scenarios = []
    s.circuits = 0
  } else if (values.only === 'small') {
    s.onlySmall = true
    s.scenarios = ['forwarder', 'beam-tcp', 'holesail']
    s.circuits = 0
    s.small = { ...s.small, seconds: int(values.seconds, 'seconds', 1, 60) ?? s.small.seconds }
    if (values.cases != null) {
      const names = values.cases.split(',').map(x => x.trim()).filter(Boolean)
      for (const n of names) if (!(SMALL_CASES as readonly string[]).includes(n)) throw new Error(`unknown case '${n}' (known: ${SMALL_CASES.join(', ')})`)
      s.small.cases = SMALL_CASES.filter(c => names.includes(c))
    }
  } else if (values.only === 'gateway') {
    s.onlyGateway = true
    s.scenarios = []
    s.circuits = 0
    s.gatewaySeconds = int(values.seconds, 'seconds', 1, 60) ?? MODES.full.gatewaySeconds
  } else if (values.only != null) {
    if (values.only !== 'circuits') throw new Error(`--only: expected 'circuits', 'cold', 'small' or 'gateway' (use --scenarios for the others)`)
    s.onlyCircuits = true
    s.scenarios = []
    if (s.circuits === 0) s.circuits = MODES.full.circuits
  }
  if (values['no-gateway'] === true || s.onlyCircuits || s.onlyColdPairs > 0 || s.onlySmall) s.gatewaySeconds = 0
  if (values['no-small'] === true || s.onlyCircuits || s.onlyColdPairs > 0 || s.onlySmall || s.onlyGateway) s.smallAfter = false
  if (values.scenarios != null) {
    const names = values.scenarios.split(',').map(x => x.trim()).filter(Boolean)
    for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new Error(`unknown scenario '${n}' (known: ${SCENARIOS.join(', ')})`)
    s.scenarios = names as ScenarioName[]
  }
  // the baselines first: ratios are computed against them within each round
  s.scenarios = SCENARIOS.filter(n => s.scenarios.includes(n))
  const out = values.out ?? join(ROOT, 'bench', 'results', s.onlySmall ? `small-${mode}.json` : s.onlyGateway ? 'gateway.json' : s.onlyColdPairs > 0 ? `cold-${mode}.json` : s.onlyCircuits ? (mode === 'full' ? 'circuits.json' : `circuits-${mode}.json`) : mode === 'full' ? 'latest.json' : `${mode}.json`)
  if (values['cpu-prof'] != null) profileBeamInto(values['cpu-prof'])
  return { settings: s, out, report: values['no-report'] !== true && values.out == null && mode === 'full' && !s.onlyCircuits && s.onlyColdPairs === 0 && !s.onlySmall && !s.onlyGateway }
}

function machine (loadAtStart: number[]): Record<string, unknown> {
  return {
    ...machineInfo(['libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@chainsafe/libp2p-quic', '@libp2p/tcp', '@libp2p/webrtc', '@libp2p/circuit-relay-v2', 'node-datachannel', 'holesail-server', 'holesail-client', 'hyperdht']),
    loadAverageAtStart: loadAtStart.map(x => round(x, 2))
  }
}

function log (line: string): void {
  process.stderr.write(line + '\n')
}

/** Processes of a scenario by role, with their PIDs. */
function pidsOf (run: Running): Record<string, number> {
  return Object.fromEntries(Object.entries(run.procs).filter((e): e is [string, Proc] => e[1] != null).map(([k, p]) => [k, p.pid]))
}

/** The last warning and error lines each process of a scenario logged (for failed measurements). */
function logTails (run: Running): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [role, p] of Object.entries(run.procs)) {
    if (p == null) continue
    const lines = p.stderr.split('\n').filter(l => l.trim() !== '').slice(-4).map(l => {
      try {
        const j = JSON.parse(l) as { msg?: string, err?: unknown, component?: string }
        return `${j.component ?? ''} ${j.msg ?? ''}${j.err != null ? `: ${typeof j.err === 'string' ? j.err : JSON.stringify(j.err).slice(0, 200)}` : ''}`.trim()
      } catch {
        return l.slice(0, 300)
      }
    })
    if (lines.length > 0) out[role] = lines
  }
  return out
}

/** A measurement failed after the scenario started: the message and the processes' last log lines. */
class MeasureError extends Error {
  readonly logs: Record<string, string[]>
  constructor (message: string, logs: Record<string, string[]>) {
    super(message)
    this.name = 'MeasureError'
    this.logs = logs
  }
}

async function measure (name: ScenarioName, infra: Infra, s: BenchSettings): Promise<ScenarioRound> {
  const run = await startScenario(name, infra)
  try {
    return await measureRunning(run, infra, s)
  } catch (err) {
    throw new MeasureError((err as Error).message, logTails(run))
  } finally {
    await run.teardown()
  }
}

async function measureRunning (run: Running, _infra: Infra, s: BenchSettings): Promise<ScenarioRound> {
  {
    const pids = pidsOf(run)
    // let start-up work settle (identify, reservations) before the idle reading
    await new Promise(resolve => setTimeout(resolve, 500))
    const rssIdleMiB: Partial<Record<Role, number>> = {}
    for (const [role, pid] of Object.entries(pids)) { const r = rssMiB(pid); if (r != null) rssIdleMiB[role as Role] = round(r, 1) ?? 0 }

    const warm: number[] = []
    if (run.warm != null) for (let i = 0; i < s.warmSamples; i++) warm.push(await run.warm())

    const keepAlive = await latency(run.port, s.requests, true, { timeoutMs: 60_000 })
    const newConnection = await latency(run.port, s.requests, false, { timeoutMs: 60_000 })

    const bulkTimeout = Math.max(60_000, s.size / 2e6 * 1000)
    const sampler = new RssSampler(pids)
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) ?? 0]))
    const up = await upload(run.port, s.size, { verify: s.verify, timeoutMs: bulkTimeout })
    const down = await download(run.port, s.size, { verify: s.verify, timeoutMs: bulkTimeout })
    const bulkPeaks = sampler.stop()
    const gib = (2 * s.size) / 1024 ** 3
    const cpuPerGiB: ScenarioRound['cpuPerGiB'] = {}
    let total = 0
    for (const [k, pid] of Object.entries(pids)) {
      const used = (cpuSeconds(pid) ?? 0) - (cpu0[k] ?? 0)
      total += used
      cpuPerGiB[k as Role] = round(used / gib, 3) ?? 0
    }
    if (Object.keys(pids).length > 0) cpuPerGiB.total = round(total / gib, 3) ?? 0

    let conc: ScenarioRound['concurrency'] = null
    const concSampler = new RssSampler(pids)
    if (s.concurrency > 0) {
      const c = await concurrent(run.port, s.concurrency, s.concurrentEach, { timeoutMs: 60_000 })
      conc = { connections: c.connections, succeeded: c.succeeded, failed: c.failed, mbps: round(c.mbps, 1) ?? 0, seconds: round(c.seconds, 2) ?? 0 }
      if (c.error != null) conc.error = c.error
    }
    const concPeaks = concSampler.stop()
    const mib = (peaks: Record<string, number>): Partial<Record<Role, number>> =>
      Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, round(v, 1) ?? 0]))
    const rssLoadMiB = mib(bulkPeaks)
    const rssConcurrentMiB = mib(concPeaks)

    const result: ScenarioRound = {
      coldMs: round(run.coldMs, 1),
      ...(run.coldDefaultMs != null ? { coldDefaultMs: round(run.coldDefaultMs, 1) } : {}),
      ...(run.coldPairLoopbackMs != null ? { coldPairLoopbackMs: round(run.coldPairLoopbackMs, 1) } : {}),
      warmMs: warm.length > 0 ? round(median(warm), 1) : null,
      uploadMBps: round(up.mbps, 1) ?? 0,
      downloadMBps: round(down.mbps, 1) ?? 0,
      keepAlive: { ok: keepAlive.ok, failed: keepAlive.failed, p50Ms: round(keepAlive.p50Ms, 3) ?? NaN, p99Ms: round(keepAlive.p99Ms, 3) ?? NaN },
      newConnection: { ok: newConnection.ok, failed: newConnection.failed, p50Ms: round(newConnection.p50Ms, 3) ?? NaN, p99Ms: round(newConnection.p99Ms, 3) ?? NaN },
      concurrency: conc,
      rssIdleMiB,
      rssLoadMiB,
      rssConcurrentMiB,
      cpuPerGiB
    }
    if (run.path != null) result.path = run.path
    if (s.verify) result.verified = up.verified === true && down.verified === true
    if (conc?.error != null) result.logs = logTails(run)
    return result
  }
}

/** Medians over rounds of each scenario's small-request figures, and of their same-round ratios to the forwarder. */
function summariseSmall (rounds: Array<Record<string, SmallRound>>, scenarios: ScenarioName[]): Record<string, unknown> {
  const figure = (r: SmallRound | undefined, c: typeof SMALL_CASES[number]): SmallFigure | undefined => {
    const f = r?.[c]
    return f != null && !('error' in f) ? f : undefined
  }
  const out: Record<string, unknown> = {}
  for (const name of scenarios) {
    const cases: Record<string, unknown> = {}
    for (const c of SMALL_CASES) {
      const figs = rounds.map(r => figure(r[name], c))
      const ok = figs.filter((f): f is SmallFigure => f != null)
      if (ok.length === 0) continue
      const roles = [...new Set(ok.flatMap(f => Object.keys(f.cpuUsPerRequest)))]
      const ratios = rounds.map((r, i) => {
        const base = figure(r.forwarder, c)
        const f = figs[i]
        return base != null && f != null ? f.perSecond / base.perSecond : NaN
      }).filter(Number.isFinite)
      cases[c] = {
        perSecond: round(median(ok.map(f => f.perSecond)), 0),
        perSecondRange: [Math.min(...ok.map(f => f.perSecond)), Math.max(...ok.map(f => f.perSecond))],
        cpuUsPerRequest: Object.fromEntries(roles.map(role => [role, round(median(ok.map(f => f.cpuUsPerRequest[role] ?? NaN).filter(Number.isFinite)), 1)])),
        ...(name !== 'forwarder' && ratios.length > 0 ? { ratioToForwarder: round(median(ratios), 3), ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)] } : {})
      }
    }
    out[name] = cases
  }
  return out
}

/** The scenarios the small-request cases compare: the baseline, beam's direct TCP path and holesail. */
const SMALL_SCENARIOS: ScenarioName[] = ['forwarder', 'beam-tcp', 'holesail']

/** The small-request cases for each of `scenarios`, `count` rounds: every round's figures and their summary. */
async function smallRounds (s: BenchSettings, infra: Infra, scenarios: ScenarioName[], count: number): Promise<{ rounds: Array<Record<string, SmallRound>>, summary: Record<string, unknown> }> {
  const rounds: Array<Record<string, SmallRound>> = []
  for (let i = 1; i <= count; i++) {
    const results: Record<string, SmallRound> = {}
    for (const name of scenarios) {
      let run: Running | undefined
      try {
        run = await startScenario(name, infra, { coldDefault: false })
        results[name] = await measureSmall(run, s.small, s.small.cases)
      } catch (err) {
        results[name] = Object.fromEntries(SMALL_CASES.map(c => [c, { error: (err as Error).message.slice(0, 300) }]))
      } finally {
        await run?.teardown()
      }
      const line = SMALL_CASES.map(c => {
        const f = results[name]?.[c]
        if (f == null) return ''
        if ('error' in f) return `${c} FAILED (${f.error})`
        return `${c} ${f.perSecond}/s (${Object.entries(f.cpuUsPerRequest).map(([k, v]) => `${k} ${v}`).join(', ')} µs)`
      }).join('; ')
      log(`round ${i} ${SCENARIO_LABELS[name].padEnd(24)} ${line} (load ${loadavg()[0]?.toFixed(2) ?? '?'})`)
    }
    rounds.push(results)
  }
  return { rounds, summary: summariseSmall(rounds, scenarios) }
}

/** `--only small`: the small-request cases for each scenario, `rounds` rounds, written to `out`. */
async function runSmall (s: BenchSettings, infra: Infra, out: string, loadAtStart: number[], started: Date): Promise<void> {
  const { rounds, summary } = await smallRounds(s, infra, s.scenarios, s.rounds)
  const doc = {
    format: 'beam-bench-small/1',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: { rounds: s.rounds, scenarios: s.scenarios, ...s.small },
    cases: SMALL_CASE_LABELS,
    machine: { ...machine(loadAtStart), beamBin: process.env.BENCH_BEAM_BIN ?? null, loadAverageAtEnd: loadavg().map(x => round(x, 2)) },
    rounds,
    summary
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(doc, null, 2) + '\n')
  log(JSON.stringify(summary, null, 1))
  log(`wrote ${out}`)
}

async function main (): Promise<void> {
  const { settings: s, out, report } = parseSettings(process.argv.slice(2))
  const started = new Date()
  const loadAtStart = loadavg()
  const t0 = performance.now()
  log(s.onlyGateway
    ? `beam bench: gateway figures only (bench/gateway.ts, ${s.gatewaySeconds} s per figure)`
    : s.onlyColdPairs > 0
    ? `beam bench: ${s.onlyColdPairs} pairs of cold starts (loopback-only share, share on its default listen addresses)`
    : `beam bench (${s.mode}): ${s.rounds} round(s), ${s.size / MiB} MiB each way, scenarios ${s.scenarios.join(', ')}`)

  const infraProcs: Proc[] = []
  let warmNode: WarmNode | undefined
  const stopAll = async (): Promise<void> => {
    await warmNode?.stop().catch(() => {})
    for (const p of infraProcs.reverse()) await p.stop().catch(() => {})
    killAll()
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { killAll(); process.exit(130) })
  }
  if (s.onlyGateway) {
    const g = await runGateway({ seconds: s.gatewaySeconds, mib: 64 }, log)
    if (g.error != null) throw new Error(`gateway: ${g.error}`)
    log(`wrote ${out}`)
    return
  }
  try {
    const service = script('service', 'service.ts')
    infraProcs.push(service)
    const servicePort = Number((await service.waitFor('ready', 20_000)).port)
    let hyperdhtBootstrap = ''
    if (s.scenarios.includes('holesail')) {
      const testnet = script('hyperdht testnet', 'holesail.cjs', ['testnet', '5'])
      infraProcs.push(testnet)
      hyperdhtBootstrap = String((await testnet.waitFor('ready', 30_000)).bootstrap)
    }
    const infra: Infra = {
      servicePort,
      hyperdhtBootstrap,
      warmNode: async () => {
        if (warmNode != null) return warmNode
        // the driver's own node for warm dials: loaded once, like a running app
        const { createBeam } = await import('../src/index.ts')
        const node = await createBeam({ dht: false, webrtcBindAddress: '127.0.0.1' })
        warmNode = {
          connect: async (target, options) => await node.connect(target, options),
          hangUp: async (peerId) => {
            for (const c of node.libp2p.getConnections()) if (c.remotePeer.toString() === peerId) await c.close().catch(() => {})
          },
          stop: async () => { await node.stop() }
        }
        return warmNode
      }
    }

    const rounds: Round[] = []
    let circuits: CircuitsResult | null = null
    let gateway: GatewayResult | null = null
    let small: { settings: Record<string, unknown>, cases: Record<string, string>, rounds: Array<Record<string, SmallRound>>, summary: Record<string, unknown> } | null = null
    const document = (done: Round[], partial: boolean): Record<string, unknown> & { seconds: number | null } => ({
      format: 'beam-bench/1',
      partial,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      seconds: round((performance.now() - t0) / 1000, 1),
      settings: { ...s, sizeMiB: s.size / MiB },
      machine: { ...machine(loadAtStart), loadAverageAtEnd: loadavg().map(x => round(x, 2)) },
      scenarios: s.scenarios.map(name => ({ name, label: SCENARIO_LABELS[name] })),
      rounds: done,
      summary: summarise(done, s.scenarios),
      circuits,
      gateway,
      small
    })
    mkdirSync(dirname(out), { recursive: true })
    if (s.onlySmall) {
      await runSmall(s, infra, out, loadAtStart, started)
      await stopAll()
      return
    }
    if (s.onlyColdPairs > 0) {
      // alternating order, so that a slow spell of the machine hits both
      const kinds = ['loopback', 'default'] as const
      const cold = { loopback: [] as ColdStart[], default: [] as ColdStart[] }
      for (let i = 0; i < s.onlyColdPairs; i++) {
        const order = i % 2 === 0 ? kinds : [...kinds].reverse() as Array<typeof kinds[number]>
        for (const which of order) {
          const c = await coldPair(infra, which)
          cold[which].push({ ms: round(c.ms, 1) ?? NaN, connectCpuMs: c.connectCpuMs, shareCpuMs: c.shareCpuMs })
          log(`pair ${i + 1} ${which.padEnd(8)} ${c.ms.toFixed(0)} ms, CPU connect ${c.connectCpuMs.toFixed(0)} ms, share ${c.shareCpuMs.toFixed(0)} ms (load ${loadavg()[0]?.toFixed(2) ?? '?'})`)
        }
      }
      const med = (xs: ColdStart[]): Record<keyof ColdStart, number | null> => ({ ms: round(median(xs.map(x => x.ms)), 1), connectCpuMs: round(median(xs.map(x => x.connectCpuMs)), 0), shareCpuMs: round(median(xs.map(x => x.shareCpuMs)), 0) })
      const doc = { format: 'beam-bench-cold/1', startedAt: started.toISOString(), machine: { ...machine(loadAtStart), loadAverageAtEnd: loadavg().map(x => round(x, 2)) }, pairs: s.onlyColdPairs, samples: cold, median: { loopback: med(cold.loopback), default: med(cold.default) } }
      mkdirSync(dirname(out), { recursive: true })
      writeFileSync(out, JSON.stringify(doc, null, 2) + '\n')
      const line = (m: Record<keyof ColdStart, number | null>): string => `${m.ms} ms (CPU connect ${m.connectCpuMs} ms, share ${m.shareCpuMs} ms)`
      log(`cold start medians: loopback-only share ${line(doc.median.loopback)}; default listen ${line(doc.median.default)}; load ${loadAtStart[0]?.toFixed(1) ?? '?'} → ${loadavg()[0]?.toFixed(1) ?? '?'}; wrote ${out}`)
      await stopAll()
      return
    }
    for (let i = 1; i <= (s.onlyCircuits ? 0 : s.rounds); i++) {
      const elapsed = (performance.now() - t0) / 1000
      const slowest = Math.max(0, ...rounds.map(r => r.seconds))
      if (i > 1 && elapsed + slowest > s.budgetSeconds) {
        log(`another round (${Math.round(slowest)} s at the pace so far) would pass the time budget of ${s.budgetSeconds} s: stopping after ${i - 1} round(s)`)
        break
      }
      const r0 = performance.now()
      const results: Round['results'] = {}
      for (const name of s.scenarios) {
        const sc0 = performance.now()
        let res: RoundResult
        if ((sc0 - t0) / 1000 > s.budgetSeconds) {
          results[name] = { error: 'skipped: the run had used up its time budget' }
          log(`round ${i} ${SCENARIO_LABELS[name].padEnd(24)} skipped (time budget)`)
          continue
        }
        try {
          res = await measure(name, infra, s)
          log(`round ${i} ${SCENARIO_LABELS[name].padEnd(24)} up ${res.uploadMBps} MB/s, down ${res.downloadMBps} MB/s, keep-alive p50 ${res.keepAlive.p50Ms} ms, new conn p50 ${res.newConnection.p50Ms} ms, cold ${res.coldMs ?? '-'} ms, ${res.concurrency != null ? `${res.concurrency.succeeded}/${res.concurrency.connections} concurrent` : ''} (${((performance.now() - sc0) / 1000).toFixed(1)} s)`)
        } catch (err) {
          res = { error: (err as Error).message.slice(0, 500), ...(err instanceof MeasureError && Object.keys(err.logs).length > 0 ? { logs: err.logs } : {}) }
          log(`round ${i} ${SCENARIO_LABELS[name].padEnd(24)} FAILED: ${res.error}`)
        }
        results[name] = res
      }
      rounds.push({ round: i, seconds: round((performance.now() - r0) / 1000, 1) ?? 0, results })
      // what is done so far survives an interrupted run
      if (i < s.rounds) writeFileSync(out, JSON.stringify(document(rounds, true), null, 2) + '\n')
    }

    if (s.smallAfter) {
      const scenarios = SMALL_SCENARIOS.filter(x => s.scenarios.includes(x))
      log(`small requests: ${s.small.cases.join(', ')} for ${scenarios.join(', ')}, ${s.rounds} round(s), ${s.small.seconds} s per figure`)
      const r = await smallRounds(s, infra, scenarios, s.rounds)
      small = { settings: { rounds: s.rounds, scenarios, ...s.small }, cases: SMALL_CASE_LABELS, ...r }
    }
    if (s.circuits > 0) {
      log(`circuits: ${s.circuits} relayed circuits through one beam relay`)
      circuits = await runCircuits({ circuits: s.circuits, servicePort }, log)
      if (circuits.error != null) log(`circuits FAILED: ${circuits.error}`)
    }
    if (s.gatewaySeconds > 0) {
      log(`gateway: beam gateway + share vs a plain reverse proxy (bench/gateway.ts, ${s.gatewaySeconds} s per figure)`)
      gateway = await runGateway({ seconds: s.gatewaySeconds, mib: s.mode === 'full' ? 64 : 16 }, log)
      if (gateway.error != null) log(`gateway FAILED: ${gateway.error}`)
    }
    const doc = document(rounds, false)
    writeFileSync(out, JSON.stringify(doc, null, 2) + '\n')
    log(`wrote ${out} (${doc.seconds} s)`)
    await stopAll()
    if (report) {
      const { writeReport } = await import('./report.ts')
      writeReport(out)
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

main().then(() => { process.exit(0) }, (err: Error) => {
  killAll()
  log(`bench: ${err.message}`)
  process.exit(1)
})
