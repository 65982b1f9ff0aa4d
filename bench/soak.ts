/**
 * `npm run bench:soak`: a long steady load, to see that beam does not grow.
 * Opt-in, not part of `npm run bench` nor of CI. Both at once, on 127.0.0.1:
 *
 *  - the tunnel: one `beam share` + one `beam connect` (direct TCP), and
 *    `--connections` TCP connections through the tunnel's local port, each
 *    sending an echo request every `--echo-interval` s, checked byte for byte
 *    (bench/lib/soak-echo.ts);
 *  - the relay: one `beam relay`, a share reachable only through it, and
 *    circuit driver processes (bench/lib/circuit-driver.ts) holding
 *    `--circuits` circuits, each sending an HTTP request every
 *    `--circuit-interval` s.
 *
 * After the ramp, `--minutes` of load; every `--sample` s the RSS and open
 * fds of each beam process (from /proc) and the request counters. Writes
 * bench/results/soak-latest.json, then docs/soak.md and docs/soak.svg from it.
 *
 *   node bench/soak.ts [--minutes 10] [--connections 1000] [--circuits 1000] [--sample 10]
 *                      [--echo-interval 2] [--circuit-interval 10] [--out FILE] [--no-report]
 *   node bench/soak.ts --report [FILE]   (only regenerate docs/soak.md and docs/soak.svg)
 *
 * Every process is started and killed by its PID (Ctrl-C too), every wait
 * and loop is bounded; no bootstrap node, ICE servers given explicitly.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { beam, killAll, script } from './lib/procs.ts'
import type { JsonEvent, Proc } from './lib/procs.ts'
import { freePort } from './lib/scenarios.ts'
import { EchoLoad } from './lib/soak-echo.ts'
import { growthOf, phaseVerdict, readProc, warmupFor } from './lib/soak-stats.ts'
import type { LoadCounters, SoakSample } from './lib/soak-stats.ts'
import { renderSoakMarkdown, renderSoakSvg } from './lib/soak-report.ts'
import type { SoakDoc, SoakMachine } from './lib/soak-report.ts'
import { round } from './lib/stats.ts'
import { machineInfo } from './lib/machine.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const READY_TIMEOUT = 40_000
/** One request's bound (echo answer, circuit answer, one circuit's dial), ms. */
const REQUEST_TIMEOUT = 30_000

function log (line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

function machine (): SoakMachine {
  return {
    ...machineInfo(['@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/tcp', '@libp2p/circuit-relay-v2']),
    loadAverageAtStart: loadavg().map(x => round(x, 2)),
    loadAverageAtEnd: []
  }
}

/** Write docs/soak.md and docs/soak.svg from a result file. */
export function writeSoakReport (file: string, md = join(ROOT, 'docs', 'soak.md'), svg = join(ROOT, 'docs', 'soak.svg')): void {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as SoakDoc
  writeFileSync(svg, renderSoakSvg(doc))
  writeFileSync(md, renderSoakMarkdown(doc, relative(dirname(md), svg)))
  log(`wrote ${md} and ${svg}`)
}

const num = (x: unknown): number => typeof x === 'number' ? x : 0

/** `--json` events that say something went wrong or changed under load (bench/lib/procs.ts keeps them all). */
const NOTABLE = new Set(['addresses', 'disconnected', 'redial', 'refused', 'tunnel-failed', 'service-unavailable', 'error', '(not json)'])

/** A beam process's events counted by name, the notable ones, and its stderr tail, for the JSON. */
function diagnose (p: Proc): NonNullable<SoakDoc['diagnostics']>[string] {
  const events: Record<string, number> = {}
  for (const e of p.events) events[e.event] = (events[e.event] ?? 0) + 1
  const notable = p.events.filter(e => NOTABLE.has(e.event) || (e.event === 'tunnel-close' && e.error != null)).slice(0, 20)
  return { events, notable, stderrTail: p.stderr.slice(-3000) }
}

/** The circuit drivers' counters, summed over each driver's latest `stats` line. */
function circuitCounters (drivers: Proc[]): LoadCounters {
  const c: LoadCounters = { open: 0, requests: 0, ok: 0, errors: 0, inFlight: 0 }
  for (const d of drivers) {
    const e = [...d.events].reverse().find(x => x.event === 'stats')
    if (e == null) continue
    c.open += num(e.open); c.requests += num(e.requests); c.ok += num(e.answered); c.errors += num(e.failed); c.inFlight += num(e.inFlight)
  }
  return c
}

/** The relay's gauges from its /metrics (loopback), {} when it does not answer within 5 s. */
async function scrapeRelay (url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text()
    for (const m of text.matchAll(/^(beam_relay_(?:circuits|connections|reservations|resident_memory_bytes|heap_used_bytes|external_memory_bytes)) (\d+(?:\.\d+)?)$/gm)) out[m[1] ?? ''] = Number(m[2])
  } catch {}
  return out
}

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      minutes: { type: 'string', default: '10' },
      connections: { type: 'string', default: '1000' },
      circuits: { type: 'string', default: '1000' },
      sample: { type: 'string', default: '10' },
      'echo-interval': { type: 'string', default: '2' },
      'circuit-interval': { type: 'string', default: '10' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results', 'soak-latest.json') },
      'no-report': { type: 'boolean', default: false },
      report: { type: 'boolean', default: false }
    }
  })
  if (values.report) { writeSoakReport(positionals[0] ?? values.out); return }
  const positive = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not '${v}'`)
    return n
  }
  const settings = {
    minutes: positive('minutes', values.minutes, 0.5, 120),
    connections: Math.round(positive('connections', values.connections, 1, 5000)),
    circuits: Math.round(positive('circuits', values.circuits, 0, 1020)),
    sampleSeconds: positive('sample', values.sample, 1, 600),
    echoIntervalSeconds: positive('echo-interval', values['echo-interval'], 0.05, 600),
    circuitIntervalSeconds: positive('circuit-interval', values['circuit-interval'], 1, 50),
    // the relayed-circuits scenario's spread (bench/lib/circuits.ts)
    drivers: 0
  }
  const drivers = settings.circuits === 0 ? 0 : Math.max(1, Math.min(4, Math.ceil(settings.circuits / 50)))
  settings.drivers = drivers
  const started = new Date()
  const m0 = machine()
  log(`beam soak: ${settings.connections} connections through one tunnel, ${settings.circuits} circuits through one relay, ${settings.minutes} min after the ramp, sample every ${settings.sampleSeconds} s (load ${m0.loadAverageAtStart.join(', ')})`)

  const procs: Proc[] = []
  const homes: string[] = []
  const mkHome = (): string => { const d = mkdtempSync(join(tmpdir(), 'beam-soak-')); homes.push(d); return d }
  let echo: EchoLoad | undefined
  const cleanup = async (): Promise<void> => {
    await echo?.stop(0).catch(() => {})
    // drivers first (they close their tunnels), then the beam processes, then the service
    for (const p of [...procs].reverse()) await p.stop(12_000).catch(() => {})
    killAll()
    for (const h of homes) rmSync(h, { recursive: true, force: true })
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll()
      for (const h of homes) rmSync(h, { recursive: true, force: true })
      process.exit(130)
    })
  }

  const doc: SoakDoc = {
    format: 'beam-soak/1',
    startedAt: started.toISOString(),
    machine: m0,
    settings,
    rampSeconds: 0,
    warmupSeconds: warmupFor(settings.minutes, settings.sampleSeconds),
    processes: {},
    samples: [],
    growth: {},
    phases: {
      tunnel: { ...phaseVerdict(settings.connections, 0, undefined), firstErrors: [] },
      circuits: { ...phaseVerdict(settings.circuits, 0, undefined), firstErrors: [], recheckOk: null }
    },
    verdict: { flat: false, nothingLost: false, pass: false }
  }
  const watched: Record<string, Proc> = {}
  const ds: Proc[] = []
  try {
    const service = script('service', 'service.ts')
    procs.push(service)
    const servicePort = Number((await service.waitFor('ready', 20_000)).port)
    // ICE: a loopback port nothing answers on (no public STUN server, ever)
    const offline = ['--no-default-bootstrap', '--ephemeral', '--ice-server', `stun:127.0.0.1:${await freePort()}`]

    // the tunnel: share + connect, direct TCP on loopback
    const share = beam('tunnel share', ['share', String(servicePort), '--listen', '/ip4/127.0.0.1/tcp/0', ...offline], mkHome())
    procs.push(share)
    const cs = String((await share.waitFor('ready', READY_TIMEOUT)).connect)
    const port = await freePort()
    const connect = beam('tunnel connect', ['connect', cs, '--port', String(port), ...offline], mkHome())
    procs.push(connect)
    await connect.waitFor('path', READY_TIMEOUT, e => e.transport === 'tcp')
    watched['tunnel share'] = share
    watched['tunnel connect'] = connect
    doc.processes['tunnel share'] = '`beam share`, direct TCP'
    doc.processes['tunnel connect'] = '`beam connect`'

    // the relay: one relay, a share reachable only through it, the drivers
    let target = ''
    let metricsUrl: string | undefined
    if (settings.circuits > 0) {
      // every connecting peer comes from 127.0.0.1: no per-address circuit caps (as bench/lib/circuits.ts)
      const relay = beam('relay', ['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--ephemeral', '--metrics', '127.0.0.1:0',
        '--max-circuits-per-ip', '0', '--max-circuits-per-subnet', '0'], mkHome())
      procs.push(relay)
      const rr = await relay.waitFor('ready', READY_TIMEOUT)
      const relayAddr = ((rr.multiaddrs as string[]) ?? [])[0] ?? ''
      metricsUrl = typeof rr.metrics === 'string' ? rr.metrics : undefined
      const rshare = beam('relayed share', ['share', String(servicePort), '--public', '--no-listen', '--no-webrtc', '--no-default-bootstrap', '--ephemeral', '--bootstrap', relayAddr], mkHome())
      procs.push(rshare)
      const sr = await rshare.waitFor('ready', READY_TIMEOUT)
      target = String(sr.connect)
      if (!target.includes('p2p-circuit') && !((sr.multiaddrs as string[]) ?? []).some(a => a.includes('p2p-circuit'))) throw new Error('the relayed share holds no relay reservation')
      watched.relay = relay
      watched['relayed share'] = rshare
      doc.processes.relay = '`beam relay`'
      doc.processes['relayed share'] = '`beam share`, reachable only through the relay'
    }

    const notableLine = (): string => 'notable events: ' + (Object.entries(watched).map(([n, p]) => {
      const d = diagnose(p)
      return d.notable.length > 0 ? `${n} ${d.notable.length}${d.notable.length === 20 ? '+' : ''} (${[...new Set(d.notable.map(e => e.event))].join(', ')})` : ''
    }).filter(x => x !== '').join('; ') || 'none')

    // sampling, from the start of the ramp
    const t0 = performance.now()
    // the gauges lag one sample: the scrape is asynchronous, the sample is not
    let relayGauges: Record<string, number> = {}
    const sampleNow = (): SoakSample => {
      const s: SoakSample = {
        t: round((performance.now() - t0) / 1000, 1) ?? 0,
        procs: Object.fromEntries(Object.entries(watched).map(([n, p]) => { const r = readProc(p.pid); return [n, { rssMiB: round(r.rssMiB, 1), fds: r.fds }] })),
        load: { tunnel: { ...(echo?.counters ?? { open: 0, requests: 0, ok: 0, errors: 0, inFlight: 0 }) }, circuits: circuitCounters(ds) },
        load1: round(loadavg()[0], 2) ?? 0,
        ...(metricsUrl != null ? { relay: { ...relayGauges } } : {})
      }
      if (metricsUrl != null) void scrapeRelay(metricsUrl).then(g => { relayGauges = g })
      doc.samples.push(s)
      return s
    }
    sampleNow()
    const ticker = setInterval(sampleNow, settings.sampleSeconds * 1000)
    try {
      // both ramps at once
      echo = new EchoLoad({ port, connections: settings.connections, intervalMs: settings.echoIntervalSeconds * 1000, timeoutMs: REQUEST_TIMEOUT })
      const echoRamp = echo.start(n => { if (n % 200 === 0 || n === settings.connections) log(`tunnel: ${n}/${settings.connections} connections open`) })
      // at most 8 connectors in flight at the relay (see bench/lib/circuits.ts, `batch`)
      const batch = Math.max(1, Math.floor(8 / Math.max(1, drivers)))
      for (let i = 0; i < drivers; i++) {
        const count = Math.floor(settings.circuits / drivers) + (i < settings.circuits % drivers ? 1 : 0)
        const d = script(`circuit driver ${i + 1}`, 'circuit-driver.ts', [target, String(count), String(batch), String(REQUEST_TIMEOUT), String(settings.circuitIntervalSeconds * 1000), String(settings.sampleSeconds * 1000)])
        procs.push(d); ds.push(d)
      }
      const readies: JsonEvent[] = []
      const rampLog = setInterval(() => {
        const up = ds.reduce((a, d) => a + num([...d.events].reverse().find(e => e.event === 'progress')?.up), 0)
        log(`relay: ${up}/${settings.circuits} circuits up, relay gauges ${JSON.stringify(doc.samples.at(-1)?.relay ?? {})} (load ${loadavg()[0]?.toFixed(2) ?? '?'}); ${notableLine()}`)
      }, 30_000)
      for (const d of ds) {
        try { readies.push(await d.waitFor('ready', 600_000)) } catch (err) { doc.phases.circuits.firstErrors.push(`${d.name}: ${(err as Error).message.slice(0, 300)}`) }
      }
      clearInterval(rampLog)
      await echoRamp
      const circuitsUp = readies.reduce((a, e) => a + num(e.up), 0)
      for (const e of readies) for (const f of (e.firstErrors as string[]) ?? []) if (doc.phases.circuits.firstErrors.length < 5) doc.phases.circuits.firstErrors.push(f)
      doc.rampSeconds = round((performance.now() - t0) / 1000, 1) ?? 0
      log(`ramp done in ${doc.rampSeconds} s: tunnel ${echo.opened}/${settings.connections} connections, relay ${circuitsUp}/${settings.circuits} circuits; soaking ${settings.minutes} min (load ${loadavg()[0]?.toFixed(2) ?? '?'})`)

      // the soak window, bounded by its end time
      const end = performance.now() + settings.minutes * 60_000
      let lastLog = 0
      while (performance.now() < end) {
        await sleep(Math.min(1000, Math.max(0, end - performance.now())))
        if (performance.now() - lastLog >= 60_000) {
          lastLog = performance.now()
          const s = doc.samples.at(-1)
          const procLine = Object.entries(s?.procs ?? {}).map(([n, p]) => `${n} ${String(p.rssMiB)} MiB/${String(p.fds)} fds`).join(', ')
          log(notableLine())
          log(`${((performance.now() - t0) / 60_000).toFixed(1)} min: tunnel ${echo.counters.ok} ok/${echo.counters.errors} errors/${echo.counters.open} open, circuits ${s?.load.circuits?.ok ?? 0} ok/${s?.load.circuits?.errors ?? 0} errors/${s?.load.circuits?.open ?? 0} open; ${procLine}; load ${loadavg()[0]?.toFixed(2) ?? '?'}`)
        }
      }
      // a last request on every circuit, then the drivers' next counts
      const recheckBefore = ds.map(d => d.events.filter(e => e.event === 'recheck').length)
      for (const d of ds) { try { process.kill(d.pid, 'SIGUSR2') } catch {} }
      let recheckOk = 0
      for (const [i, d] of ds.entries()) {
        try {
          recheckOk += num((await d.waitFor('recheck', REQUEST_TIMEOUT + 10_000, () => d.events.filter(e => e.event === 'recheck').length > (recheckBefore[i] ?? 0))).ok)
          const seen = d.events.filter(e => e.event === 'stats').length
          await d.waitFor('stats', settings.sampleSeconds * 1000 + 10_000, () => d.events.filter(e => e.event === 'stats').length > seen)
        } catch (err) { doc.phases.circuits.firstErrors.push(`${d.name}: ${(err as Error).message.slice(0, 300)}`) }
      }
      if (ds.length > 0) doc.phases.circuits.recheckOk = recheckOk
      await echo.stop(REQUEST_TIMEOUT + 5000)
      const last = sampleNow()
      doc.phases.tunnel = { ...phaseVerdict(settings.connections, echo.opened, last.load.tunnel), firstErrors: echo.firstErrors }
      doc.phases.circuits = { ...phaseVerdict(settings.circuits, circuitsUp, last.load.circuits), firstErrors: doc.phases.circuits.firstErrors, recheckOk: doc.phases.circuits.recheckOk }
      if (settings.circuits === 0) doc.phases.circuits.pass = true
    } finally {
      clearInterval(ticker)
    }
  } catch (err) {
    doc.error = (err as Error).message.slice(0, 500)
    log(`soak: ${doc.error}`)
  } finally {
    doc.diagnostics = Object.fromEntries(Object.entries(watched).map(([n, p]) => [n, diagnose(p)]))
    await cleanup()
  }
  const warmEnd = doc.rampSeconds + doc.warmupSeconds
  for (const n of Object.keys(doc.processes)) doc.growth[n] = growthOf(doc.samples, n, warmEnd)
  const flat = Object.keys(doc.processes).length > 0 && Object.values(doc.growth).every(g => g.flat)
  const nothingLost = doc.phases.tunnel.pass && doc.phases.circuits.pass
  doc.verdict = { flat, nothingLost, pass: flat && nothingLost && doc.error == null }
  doc.machine.loadAverageAtEnd = loadavg().map(x => round(x, 2))
  mkdirSync(dirname(values.out), { recursive: true })
  writeFileSync(values.out, JSON.stringify(doc, null, 2) + '\n')
  for (const [n, g] of Object.entries(doc.growth)) log(`${n}: RSS ${String(g.rssFirstMiB)} → ${String(g.rssLastMiB)} MiB (${String(g.rssMiBPerMin)} MiB/min), fds ${String(g.fdsFirst)} → ${String(g.fdsLast)} (max ${String(g.fdsMax)}), ${g.flat ? 'flat' : 'NOT flat'}`)
  for (const [n, p] of Object.entries(doc.phases)) log(`${n}: ${p.opened}/${p.wanted} opened, ${p.openAtEnd} open at the end, ${p.requests} requests, ${p.ok} ok, ${p.errors} errors, ${p.lost} lost`)
  log(`verdict: ${doc.verdict.pass ? 'pass' : 'FAIL'} (${flat ? 'flat' : 'not flat'}, ${nothingLost ? 'nothing lost' : 'something lost'}); wrote ${values.out}`)
  if (!values['no-report']) writeSoakReport(values.out)
  if (!doc.verdict.pass) process.exitCode = 1
}

main().then(() => { process.exit(process.exitCode ?? 0) }, (err: Error) => {
  killAll()
  log(`soak: ${err.message}`)
  process.exit(2)
})
