/**
 * Turns a benchmark result file (bench/results/latest.json) into
 * docs/benchmarks.md (tables, targets, method, machine) and
 * docs/benchmarks.svg (bar chart). Pure function of the JSON, so that the
 * report can be regenerated at any time:
 *
 *   node bench/report.ts [results.json] [--md docs/benchmarks.md] [--svg docs/benchmarks.svg]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { summarise } from './lib/summary.ts'
import type { MetricName, RatioName, Round, ScenarioSummary } from './lib/summary.ts'
import { SCENARIO_LABELS } from './lib/scenarios.ts'
import type { ScenarioName } from './lib/scenarios.ts'
import type { CircuitsResult } from './lib/circuits.ts'
import type { GatewayResult } from './lib/gateway-run.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The parts of the result file the report reads. */
export interface BenchDoc {
  format: string
  startedAt: string
  seconds: number
  settings: { mode: string, rounds: number, sizeMiB: number, requests: number, concurrency: number, concurrentEach: number, warmSamples: number, verify: boolean }
  machine: { cpu: string, cores: number, memoryGiB: number, kernel: string, node: string, beam: string, commit: string | null, libp2p: string | null, packages: Record<string, string | null>, loadAverageAtStart: number[], loadAverageAtEnd: number[] }
  scenarios: Array<{ name: ScenarioName, label: string }>
  rounds: Round[]
  summary: Partial<Record<ScenarioName, ScenarioSummary>>
  /** The relayed-circuits scenario (bench/lib/circuits.ts); absent in older files and when skipped. */
  circuits?: CircuitsResult | null
  /** Where `circuits` came from when not from this run (a separate `--only circuits` run). */
  circuitsFrom?: string
  /** beam gateway vs a plain reverse proxy (bench/gateway.ts); absent in older files and when skipped. */
  gateway?: GatewayResult | null
  /** Where `gateway` came from when not from this run. */
  gatewayFrom?: string
  /** The small-request cases (bench/lib/small-run.ts) after the rounds; absent in older files and with --no-small. */
  small?: SmallDoc | null
  /** Where `small` came from when not from this run. */
  smallFrom?: string
}

/** One small-request case summarised over rounds: medians, and the same-round ratio to the forwarder. */
interface SmallCaseSummary {
  perSecond: number
  perSecondRange: [number, number]
  cpuUsPerRequest: Record<string, number>
  ratioToForwarder?: number
  ratioRange?: [number, number]
}

/** The small-request figures: the part of a run (or of a `--only small` file) the report reads. */
interface SmallDoc {
  settings: { rounds: number, scenarios: string[], seconds: number, size: number, connections: number, depth: number, newConnectionWorkers: number }
  cases: Record<string, string>
  summary: Record<string, Record<string, SmallCaseSummary>>
  startedAt?: string
}

function fmt (x: number | undefined, digits = 0): string {
  if (x == null || !Number.isFinite(x)) return '–'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function ms (x: number | undefined): string {
  if (x == null || !Number.isFinite(x)) return '–'
  return x < 10 ? fmt(x, 2) : x < 100 ? fmt(x, 1) : fmt(x, 0)
}

function ratio (x: number | undefined): string {
  return x == null || !Number.isFinite(x) ? '–' : `${fmt(x, 2)}×`
}

interface Target {
  text: string
  /** true met, false not met, null not measured. */
  met: boolean | null
  measured: string
}

function targets (doc: BenchDoc): Target[] {
  const m = (s: ScenarioName, k: MetricName): number | undefined => doc.summary[s]?.median[k]
  const r = (s: ScenarioName, k: RatioName): number | undefined => doc.summary[s]?.ratio[k]
  const both = (s: ScenarioName): number | undefined => {
    const up = m(s, 'uploadMBps'); const down = m(s, 'downloadMBps')
    return up == null || down == null ? undefined : Math.min(up, down)
  }
  const check = (v: number | undefined, ok: (v: number) => boolean): boolean | null => v == null ? null : ok(v)
  const out: Target[] = []
  const direct = ['beam-tcp', 'beam-quic'] as const
  for (const s of direct) {
    const v = both(s)
    out.push({ text: `${label(doc, s)}: ≥ 400 MB/s each direction`, met: check(v, x => x >= 400), measured: v == null ? 'not measured' : `${fmt(v)} MB/s (slower direction)` })
  }
  const hs = Math.min(r('beam-tcp', 'uploadVsHolesail') ?? NaN, r('beam-tcp', 'downloadVsHolesail') ?? NaN)
  out.push({ text: 'direct path ≥ 3× holesail (same-round ratio)', met: Number.isFinite(hs) ? hs >= 3 : null, measured: Number.isFinite(hs) ? `${ratio(hs)} (slower direction)` : 'not measured' })
  const fw = Math.min(r('beam-tcp', 'uploadVsForwarder') ?? NaN, r('beam-tcp', 'downloadVsForwarder') ?? NaN)
  out.push({ text: 'direct path ≈ half of the two-hop forwarder ceiling (≥ 0.5×)', met: Number.isFinite(fw) ? fw >= 0.5 : null, measured: Number.isFinite(fw) ? ratio(fw) : 'not measured' })
  const stock = Math.min(r('beam-tcp', 'uploadVsStock') ?? NaN, r('beam-tcp', 'downloadVsStock') ?? NaN)
  if (Number.isFinite(stock)) {
    out.push({ text: 'direct path ≥ 2.5× stock libp2p (same-round ratio to the stock TCP+Noise+yamux tunnel)', met: stock >= 2.5, measured: `${ratio(stock)} (slower direction)` })
  } else {
    const tcp = both('beam-tcp')
    out.push({ text: 'direct path ≥ 2.5× stock libp2p (stock not run: the issue\'s ~150 MB/s, so ≥ 375 MB/s)', met: check(tcp, x => x >= 375), measured: tcp == null ? 'not measured' : `${fmt(tcp)} MB/s` })
  }
  const webrtc = both('beam-webrtc')
  out.push({ text: 'WebRTC path ≥ 100 MB/s', met: check(webrtc, x => x >= 100), measured: webrtc == null ? 'not measured' : `${fmt(webrtc)} MB/s` })
  const relay = both('beam-relay')
  out.push({ text: 'relayed through `beam relay` ≥ 150 MB/s', met: check(relay, x => x >= 150), measured: relay == null ? 'not measured' : `${fmt(relay)} MB/s` })
  for (const s of ['beam-tcp', 'beam-quic', 'beam-webrtc', 'beam-relay'] as const) {
    const counts = doc.rounds.map(x => x.results[s]).flatMap(x => x != null && !('error' in x) && x.concurrency != null ? [x.concurrency.succeeded] : [])
    const worst = counts.length > 0 ? Math.min(...counts) : undefined
    out.push({ text: `${fmt(doc.settings.concurrency)} concurrent connections through one tunnel, ${label(doc, s)}: all succeed${doc.settings.concurrency < 1000 ? ' (fewer than the target\'s 1,000 in this mode)' : ''}`, met: check(worst, x => x === doc.settings.concurrency), measured: worst == null ? 'not measured' : `${fmt(worst)} of ${fmt(doc.settings.concurrency)} in the worst round (${counts.map(c => fmt(c)).join(', ')})` })
  }
  const nc = r('beam-tcp', 'newConnP50VsForwarder')
  out.push({ text: 'new-connection request p50 ≤ 2× the forwarder\'s (direct TCP)', met: check(nc, x => x <= 2), measured: nc == null ? 'not measured' : `${ratio(nc)} (${ms(m('beam-tcp', 'newConnP50Ms'))} ms vs ${ms(m('forwarder', 'newConnP50Ms'))} ms)` })
  const ka = r('beam-tcp', 'keepAliveP50VsForwarder')
  out.push({ text: 'keep-alive request p50 ≤ 1.5× the forwarder\'s (direct TCP)', met: check(ka, x => x <= 1.5), measured: ka == null ? 'not measured' : `${ratio(ka)} (${ms(m('beam-tcp', 'keepAliveP50Ms'))} ms vs ${ms(m('forwarder', 'keepAliveP50Ms'))} ms)` })
  const cold = m('beam-tcp', 'coldMs')
  out.push({ text: 'cold `beam connect` spawn → first byte ≤ 300 ms (direct TCP)', met: check(cold, x => x <= 300), measured: cold == null ? 'not measured' : `${ms(cold)} ms` })
  const coldDefault = m('beam-tcp', 'coldDefaultMs')
  // the loopback cold start measured next to it (runs before 2026-12-07 have none: the scenario's own)
  const coldBeside = m('beam-tcp', 'coldPairLoopbackMs') ?? cold
  out.push({ text: 'the same with the share on its default listen addresses ≈ the loopback-only figure', met: check(coldDefault, x => coldBeside != null && x <= Math.max(300, coldBeside * 1.1)), measured: coldDefault == null ? 'not measured' : `${ms(coldDefault)} ms (loopback-only share ${ms(coldBeside)} ms${m('beam-tcp', 'coldPairLoopbackMs') != null ? ', measured beside it' : ''})` })
  const idle = m('beam-tcp', 'rssIdleShareMiB')
  out.push({ text: 'idle `beam share` ≤ 60 MB RSS', met: check(idle, x => x * 1.048576 <= 60), measured: idle == null ? 'not measured' : `${fmt(idle * 1.048576)} MB` })
  const loads = (['beam-tcp', 'beam-quic', 'beam-webrtc', 'beam-relay'] as const).flatMap(s => [m(s, 'rssLoadShareMiB'), m(s, 'rssLoadConnectMiB')]).filter((x): x is number => x != null)
  const peak = loads.length > 0 ? Math.max(...loads) : undefined
  out.push({ text: `under a bulk transfer ≤ 150 MB RSS on either side (every beam path; the target says 1 GiB, this run moved ${doc.settings.sizeMiB} MiB each way)`, met: check(peak, x => x * 1.048576 <= 150), measured: peak == null ? 'not measured' : `peak ${fmt(peak * 1.048576)} MB` })
  const sm = doc.small?.summary
  const smallCase = (c: string): SmallCaseSummary | undefined => sm?.['beam-tcp']?.[c]
  const ratioRow = (c: string, min: number, what: string): void => {
    const x = smallCase(c)
    out.push({ text: `${what} ≥ ${fmt(min, 1)}× the forwarder's requests/s (direct TCP, same round)`, met: x?.ratioToForwarder == null ? null : x.ratioToForwarder >= min, measured: x?.ratioToForwarder == null ? 'not measured in this run (`node bench/run.ts --only small`)' : `${ratio(x.ratioToForwarder)} (${fmt(x.perSecond)}/s; rounds ${ratio(x.ratioRange?.[0])}–${ratio(x.ratioRange?.[1])})` })
  }
  ratioRow('keepAlive', 0.5, 'keep-alive small requests, one connection,')
  ratioRow('concurrent', 0.5, `keep-alive small requests, ${fmt(doc.small?.settings.connections)} connections,`)
  ratioRow('newConnection', 0.3, 'new-connection HTTP requests')
  const kaCpu = smallCase('concurrent')?.cpuUsPerRequest
  out.push({ text: 'CPU per small request per side ≤ 29 µs (half of the 58 µs the issue measured; keep-alive, concurrent connections)', met: kaCpu == null ? null : Math.max(kaCpu.share ?? Infinity, kaCpu.connect ?? Infinity) <= 29, measured: kaCpu == null ? 'not measured' : `share ${fmt(kaCpu.share, 1)} µs, connect ${fmt(kaCpu.connect, 1)} µs` })
  const g = doc.gateway?.results
  const gText = 'gateway (direct beam path): ≥ 0.5× the reverse proxy\'s requests/s and p99 ≤ 3× its p99 (small keep-alive requests)'
  if (g == null) out.push({ text: gText, met: null, measured: doc.gateway?.error != null ? `failed: ${doc.gateway.error.slice(0, 120)}` : 'not measured in this run (`node bench/run.ts --only gateway`)' })
  else {
    const rq = g.gateway.requestsPerSecond / g.proxy.requestsPerSecond
    const p99 = g.gateway.p99Ms / g.proxy.p99Ms
    out.push({ text: gText, met: rq >= 0.5 && p99 <= 3, measured: `${ratio(rq)} the requests/s (${fmt(g.gateway.requestsPerSecond)} vs ${fmt(g.proxy.requestsPerSecond)}), p99 ${ratio(p99)} (${ms(g.gateway.p99Ms)} ms vs ${ms(g.proxy.p99Ms)} ms)${g.proxy.what.startsWith('nginx') ? '' : '; the proxy was not nginx'}` })
  }
  const c = doc.circuits
  const cText = 'one `beam relay` carries 1,000 concurrent relayed circuits at ≤ 512 MB RSS'
  if (c == null || c.error != null) {
    out.push({ text: cText, met: null, measured: c?.error != null ? `failed: ${c.error.slice(0, 120)}` : 'not measured in this run (`node bench/run.ts --only circuits`)' })
  } else {
    const rss = c.relayRssPeakMiB ?? c.relayRssAtLoadMiB
    const ok = c.attempted >= 1000 && c.up >= 1000 && rss != null && rss * 1.048576 <= 512
    out.push({ text: cText, met: ok, measured: `${fmt(c.up)} of ${fmt(c.attempted)} tunnels up at the end of the ramp (at most ${fmt(c.upPeak)} at once; relay gauge peak ${fmt(c.relayGaugesPeak.circuits)} circuits); relay RSS ${fmt(c.relayRssAtLoadMiB == null ? undefined : c.relayRssAtLoadMiB * 1.048576)} MB at the end, peak ${fmt(rss == null ? undefined : rss * 1.048576)} MB${c.up < c.attempted ? '; see "Relayed circuits" for what limits it' : ''}` })
  }
  return out
}

const SMALL_LABELS: Record<string, string> = { forwarder: 'two-hop Node forwarder', 'beam-tcp': 'beam direct TCP', holesail: 'holesail' }

/** The small-request section: requests/s, the same-round ratio to the forwarder and CPU µs per request per process, by case. */
function renderSmall (d: SmallDoc, from?: string): string[] {
  const L: string[] = []
  L.push('## Small requests (requests/s and CPU per request)')
  L.push('')
  L.push(`${fmt(d.settings.size)}-byte echoes and HTTP requests through each path for ${fmt(d.settings.seconds)} s per figure, ${fmt(d.settings.rounds)} round(s), medians (bench/lib/small-run.ts): one keep-alive connection; ${fmt(d.settings.connections)} keep-alive connections at once; ${fmt(d.settings.depth)} messages in flight on one connection (Redis-style pipelining); and an HTTP request on a new connection each time (${fmt(d.settings.newConnectionWorkers)} clients at once). CPU µs per request is each tunnel process's user + system time over the requests, from /proc; "share" is the hop next to the service.${from != null ? ` These figures come from ${from}.` : ''}`)
  L.push('')
  L.push('| case | path | requests/s | × forwarder (rounds) | CPU µs per request (share / connect) |')
  L.push('| --- | --- | ---: | ---: | ---: |')
  for (const [c, caseLabel] of Object.entries(d.cases)) {
    for (const name of d.settings.scenarios) {
      const x = d.summary[name]?.[c]
      if (x == null) continue
      const cpu = x.cpuUsPerRequest
      const roles = Object.keys(cpu)
      const share = cpu.share ?? cpu[roles[0] ?? '']
      const connect = cpu.connect ?? cpu[roles[1] ?? '']
      L.push(`| ${caseLabel} | ${SMALL_LABELS[name] ?? name} | ${fmt(x.perSecond)} | ${x.ratioToForwarder == null ? '1.00×' : `${ratio(x.ratioToForwarder)} (${ratio(x.ratioRange?.[0])}–${ratio(x.ratioRange?.[1])})`} | ${fmt(share, 1)} / ${fmt(connect, 1)} |`)
    }
  }
  L.push('')
  L.push('Where the CPU goes and what limits it: [performance.md](performance.md#small-requests-2026-12-06-issue-24).')
  L.push('')
  return L
}

/** The gateway section: the service itself, the reverse proxy and beam gateway + share, same run. */
function renderGateway (g: GatewayResult, from?: string): string[] {
  const r = g.results
  if (r == null) return []
  const L: string[] = []
  L.push('## Web visitors through `beam gateway`')
  L.push('')
  L.push(`A node:http service on loopback answers \`/\` with 5 bytes and \`/big\` with ${fmt(g.downloadMiB)} MiB. The load generator keeps ${fmt(g.concurrency)} keep-alive HTTP/1.1 connections busy for ${fmt(g.seconds)} s against the service itself, the reverse proxy and \`beam gateway\` (plain HTTP, no limits) carrying each request over a direct TCP beam path to a \`beam share --gateway\` of the service, then downloads \`/big\` once through each (bench/gateway.ts; nginx from Debian, which scripts/install-bench-deps.sh installs and the bench runs with its own loopback-only config). CPU µs per request is each process's user + system time over the keep-alive requests, from /proc; \`generator\` is the bench's own process, which runs both the load generator and the service.${from != null ? ` These figures come from ${from}.` : ''}`)
  L.push('')
  L.push('| path | requests/s | p50 | p99 | errors | download MB/s | CPU µs per request |')
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const [k, x] of Object.entries(r)) L.push(`| ${k}: ${x.what} | ${fmt(x.requestsPerSecond)} | ${ms(x.p50Ms)} ms | ${ms(x.p99Ms)} ms | ${fmt(x.errors)} | ${fmt(x.downloadMBps, 1)} | ${Object.entries(x.cpuUsPerRequest ?? {}).map(([p, v]) => `${p} ${v == null ? '–' : fmt(v)}`).join(', ') || '–'} |`)
  L.push('')
  return L
}

/** The relayed-circuits section: counts, the relay's gauges and RSS, the failures and what limits it. */
function renderCircuits (c: CircuitsResult, from?: string): string[] {
  const L: string[] = []
  const mb = (x: number | null): string => fmt(x == null ? undefined : x * 1.048576)
  L.push(`## Relayed circuits through one \`beam relay\` (${fmt(c.attempted)} connecting peers)`)
  L.push('')
  L.push(`One \`beam relay\` and one public \`beam share\` with no listener (reachable only through its reservation on the relay); ${fmt(c.drivers)} driver processes start ${fmt(c.attempted)} connector nodes (distinct ephemeral peer ids, TCP + circuit relay only, no DHT), each dialling the share through the relay's circuit address, opening one tunnel and making one HTTP request through it on a socket kept open; once the ramp is done each open socket asks again. The relay's RSS comes from /proc, its gauges from its \`--metrics\` endpoint.${from != null ? ` These figures come from ${from}.` : ''}`)
  L.push('')
  L.push('| figure | value |')
  L.push('| --- | ---: |')
  L.push(`| circuits attempted / up at the end of the ramp / failed | ${fmt(c.attempted)} / ${fmt(c.up)} / ${fmt(c.failed)} |`)
  L.push(`| most tunnels up at once during the ramp | ${fmt(c.upPeak)} |`)
  L.push(`| connector nodes still connected to the share at the end of the ramp | ${fmt(c.connected)} |`)
  L.push(`| tunnels that answered once and later stopped answering | ${fmt(c.dropped)}${c.dropErrors.length > 0 ? ` (${c.dropErrors[0]?.slice(0, 80) ?? ''})` : ''} |`)
  L.push(`| still answering a second request once the ramp was done | ${c.recheckOk == null ? '–' : fmt(c.recheckOk)} |`)
  L.push(`| relay gauges at the end: circuits / connections / reservations | ${fmt(c.relayGauges.circuits ?? undefined)} / ${fmt(c.relayGauges.connections ?? undefined)} / ${fmt(c.relayGauges.reservations ?? undefined)} |`)
  L.push(`| relay gauges, highest during the ramp: circuits / connections | ${fmt(c.relayGaugesPeak.circuits)} / ${fmt(c.relayGaugesPeak.connections)} |`)
  L.push(`| relay refusals counted by the relay | ${Object.keys(c.relayGauges.refusals).length === 0 ? 'none' : Object.entries(c.relayGauges.refusals).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')} |`)
  L.push(`| relay RSS MB: idle / at the end of the ramp / peak | ${mb(c.relayRssIdleMiB)} / ${mb(c.relayRssAtLoadMiB)} / ${mb(c.relayRssPeakMiB)} |`)
  L.push(`| relay RSS per circuit up (end − idle) | ${c.relayKiBPerCircuit == null ? '–' : `${fmt(c.relayKiBPerCircuit)} KiB`} |`)
  L.push(`| share RSS MB: idle / at the end / peak | ${mb(c.shareRssIdleMiB)} / ${mb(c.shareRssAtLoadMiB)} / ${mb(c.shareRssPeakMiB)} |`)
  L.push(`| driver RSS MB (connector nodes in-process) | ${c.driverRssMiB.map(x => mb(x)).join(', ')} |`)
  L.push(`| time to ramp up | ${fmt(c.rampSeconds, 1)} s |`)
  L.push('')
  const errs = Object.entries(c.errors).sort((a, b) => b[1] - a[1])
  if (errs.length > 0) {
    L.push('Failures, by reason (first 160 characters):')
    L.push('')
    for (const [k, v] of errs.slice(0, 8)) L.push(`- ${fmt(v)} × \`${k.replace(/`/g, "'")}\``)
    L.push('')
  }
  if (c.up > 0 && c.relayKiBPerCircuit != null && c.relayRssIdleMiB != null) {
    const at1000 = (c.relayRssIdleMiB + c.relayKiBPerCircuit * 1000 / 1024) * 1.048576
    L.push(`**Memory.** ${fmt(c.relayKiBPerCircuit)} KiB of relay RSS per circuit (each circuit is the connecting peer's own libp2p connection to the relay plus two yamux streams, one per side): at that rate 1,000 circuits need about ${fmt(at1000)} MB, ${at1000 <= 512 ? 'within' : 'over'} the 512 MB target. Most of it is V8's headroom rather than live data: a heap snapshot of the relay at ~800 circuits held 76 MiB of live objects. \`beam relay\` therefore runs with \`--max-semi-space-size=16 --heap-growing-percent=10\` (${c.relayFlags == null ? 'flags not recorded in this result' : c.relayFlags.length === 0 ? '**not** in this run' : `this run: \`${c.relayFlags.join(' ')}\``}); with V8's defaults the same scenario took 450–530 MiB (docs/relay.md, "Memory"; docs/performance.md).`)
    L.push('')
  }
  if (c.up < c.attempted) {
    const connCap = c.relayGaugesPeak.connections
    L.push(`**What limits the count.** Not beam's relay limits alone (${Object.entries(c.relayLimits ?? {}).map(([k, v]) => `${k} ${String(v)}`).join(', ')}; the relay counted ${Object.keys(c.relayGauges.refusals).length === 0 ? 'no refusal of its own' : 'refusals of its own, see above'}). libp2p's connection manager is sized from them (src/peer/libp2p-options.ts: \`maxConnections\` max(2048, reservations + 2 × circuits + 256), \`maxIncomingPendingConnections\` 64); the relay's connection gauge peaked at ${fmt(c.relayGaugesPeak.connections)}. The failures listed above say where this run stopped.`)
    L.push('')
  }
  return L
}

function label (doc: BenchDoc, s: ScenarioName): string {
  return doc.scenarios.find(x => x.name === s)?.label ?? SCENARIO_LABELS[s] ?? s
}

/**
 * What is known about the costs that the figures do not show by themselves
 * (kept here, not in the generated file, so that a re-run keeps it).
 */
const LIMITS_TEXT = [
  '[performance.md](performance.md) is the engineering log behind these figures: profiles (`--cpu-prof`, `perf record`), what each change bought, and what was tried and did not help. In short:',
  '- **Direct TCP.** CPU per byte, on two cores shared by four busy processes. A tunnel side now costs ~1.7–2.5 CPU s per GiB (~0.6 for a plain Node forwarder) and the driver\'s source and sink another ~1.3–1.5, so with both cores fully used the whole tunnel cannot go much past ~350–400 MB/s here. Of a side\'s busy time (profile below): OpenSSL\'s ChaCha20-Poly1305 ~20–25 % (Noise\'s cipher, fixed by the libp2p spec; Node reaches ~1.25 GB/s per core with it, `openssl speed` 1.8), the socket `writev` calls ~16–18 %, GC ~9–12 %, libp2p\'s stream layers (Noise framing, yamux, uint8arraylist) ~15–20 %. Done in beam (performance.md items 1–3, 7–9): the Noise key imported once per session, no copy of a sent or received message, one `writev` per batch, no exception per socket read, and V8 settings that stop a full GC every 100 ms. TLS 1.3 (AES-GCM) cut CPU per GiB by 13 % but makes an X.509 certificate per connection; not adopted.',
  '- **WebRTC.** The cost is inside node-datachannel: SCTP handles every ~1,200-byte packet with its own UDP send and allocations; beam\'s own code is ~6 % of that profile. Larger data-channel messages would break interoperability with other libp2p implementations.',
  '- **QUIC.** The receiving side spends ~15–30 CPU s per GiB in the `@chainsafe/libp2p-quic` binding, which hands over many small chunks.',
  '- **Relayed.** A relayed byte is encrypted and muxed twice (end to end inside the circuit, and per hop on each peer\'s connection to the relay), and a third process handles it; on two cores three busy processes share the CPU. On a quiet machine `scripts/perf-throughput.ts` measured 145–200 MB/s for relayed downloads (2026-12-06).',
  '- **New connections.** On loopback the latency of a new tunnel connection is CPU: libp2p spends ~1.2–1.8 ms of CPU per new stream on each side (multistream-select, the peer-store update libp2p makes for every stream, Noise and yamux per message), a Node forwarder ~0.3, and beam\'s p50 is about stock libp2p\'s. Over a real link, round trips count instead: a new tunnel connection costs one (tunnel streams are negotiated optimistically and the client\'s first bytes ride with the request, performance.md item 7), where a two-hop forwarder needs two (its TCP connect to the far hop, then the request) and a stock libp2p stream two (multistream-select, then the request). `node bench/delayed-link.ts` measures it: 1.5 link round trips per new-connection HTTP request.',
  '- **Keep-alive requests.** ~0.25 ms of CPU per request on each side (a Noise message, a yamux frame and its window update each way) against ~0.08 for a forwarder; sending window updates only past a threshold saved a quarter of it but was reverted (performance.md item 9).',
  '- **Start-up.** A bundle (`dist/bundle`, one entry file and a chunk per lazy import; QUIC\'s JavaScript inside it), the compile cache, transports built on first use (WebRTC on connectors, WebSockets where not listened on) and `node:http` imported only where used: spawn → first byte ~640 → ~250 ms.',
  '- **Memory.** An idle share is ~90 MB RSS, of which ~45 MB is Node itself before beam loads a line (performance.md, "Memory"): the 60 MB target leaves ~15 MB for libp2p, its transports and beam. Under load, keeping V8\'s young generation at its initial size (every command but `beam relay`) holds direct TCP near 125–155 MiB; the WebRTC share stays near 230–250 MiB (node-datachannel\'s native buffers and its per-packet allocations).',
  '- **Profiles.** `node bench/run.ts … --cpu-prof DIR` runs every beam process under `node --cpu-prof` (flame graphs in Chrome DevTools or speedscope); `node bench/profile-top.ts DIR` sums them by package into bench/results/profile.json, shown below when present. `node bench/newconn.ts` does the same for new-connection and keep-alive requests.'
]

/** bench/results/profile.json, written by bench/profile-top.ts. */
export interface ProfileDoc {
  label: string
  createdAt: string
  processes: Array<{ file: string, busySeconds: number, packages: Array<{ name: string, percent: number }>, functions: Array<{ name: string, percent: number }> }>
}

function renderProfile (prof: ProfileDoc): string[] {
  const L: string[] = []
  L.push('### Where the CPU goes (V8 CPU profiles)')
  L.push('')
  L.push(`${prof.label !== '' ? `${prof.label}. ` : ''}Self time by package, in percent of each process's busy samples (idle excluded), from \`node --cpu-prof\` profiles of the beam processes (${prof.createdAt.slice(0, 10)}; \`wasm://\` is WebAssembly code, \`native:\` a C++ builtin). Regenerate: \`node bench/run.ts --quick --scenarios beam-tcp --size 256 --requests 10 --concurrency 0 --cpu-prof DIR\`, then \`node bench/profile-top.ts DIR --label "…"\` and \`node bench/report.ts\`.`)
  L.push('')
  for (const p of prof.processes) {
    L.push(`**${p.file}** (${fmt(p.busySeconds, 1)} s busy): ${p.packages.slice(0, 10).map(x => `${x.name} ${fmt(x.percent, 1)} %`).join(', ')}.`)
    L.push('')
    L.push(`Top functions: ${p.functions.slice(0, 8).map(x => `\`${x.name.replace(/`/g, "'")}\` ${fmt(x.percent, 1)} %`).join(', ')}.`)
    L.push('')
  }
  return L
}

/** The Markdown report. */
export function renderMarkdown (doc: BenchDoc, svgName: string, profile?: ProfileDoc): string {
  const L: string[] = []
  const sm = (s: ScenarioName): ScenarioSummary | undefined => doc.summary[s]
  const names = doc.scenarios.map(s => s.name)
  const mach = doc.machine
  L.push('# Benchmarks')
  L.push('')
  L.push('<!-- generated by `node bench/report.ts` from bench/results/latest.json: do not edit by hand -->')
  L.push('')
  L.push(`How much beam gets out of the way, measured by \`npm run bench\` on ${doc.startedAt.slice(0, 10)}: ${doc.rounds.length} round(s) (of ${doc.settings.rounds} planned; the suite stops early rather than pass its time budget), medians, and ratios to raw TCP, to the two-hop forwarder, to a stock libp2p tunnel and to holesail computed within each round. All traffic stays on 127.0.0.1. **The machine (${mach.cores} cores) was shared with other work while measuring** (load average ${mach.loadAverageAtStart.join(', ')} at the start, ${mach.loadAverageAtEnd.join(', ')} at the end): absolute figures are noisy, same-round ratios less so.`)
  L.push('')
  L.push(`![throughput by path](${svgName})`)
  L.push('')
  L.push('Re-run and regenerate: `npm run bench` (writes bench/results/latest.json, then this page and the chart); `node bench/report.ts` regenerates them from the JSON alone. `npm run bench -- --quick` is a smaller run for development (under a minute).')
  L.push('')
  L.push(`## Throughput (${doc.settings.sizeMiB} MiB each way, MB/s = 10⁶ bytes/s)`)
  L.push('')
  L.push('| path | upload MB/s | download MB/s | × raw TCP | × forwarder | × stock libp2p | × holesail | CPU s per GiB (all tunnel processes) |')
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const s of names) {
    const x = sm(s)
    const e = x != null && x.rounds === 0 ? ` (failed: ${x.errors[0]?.slice(0, 80) ?? ''})` : ''
    L.push(`| ${label(doc, s)}${e} | ${fmt(x?.median.uploadMBps)} | ${fmt(x?.median.downloadMBps)} | ${ratio(x?.ratio.downloadVsRaw)} ↓ ${ratio(x?.ratio.uploadVsRaw)} ↑ | ${ratio(x?.ratio.downloadVsForwarder)} ↓ ${ratio(x?.ratio.uploadVsForwarder)} ↑ | ${ratio(x?.ratio.downloadVsStock)} ↓ ${ratio(x?.ratio.uploadVsStock)} ↑ | ${ratio(x?.ratio.downloadVsHolesail)} ↓ ${ratio(x?.ratio.uploadVsHolesail)} ↑ | ${fmt(x?.median.cpuPerGiB, 1)} |`)
  }
  L.push('')
  L.push(`## Latency and start-up (small HTTP requests, ${doc.settings.requests} per figure)`)
  L.push('')
  L.push('| path | keep-alive p50 / p99 ms | new connection p50 / p99 ms | cold: spawn → first byte ms | warm: dial → first byte ms |')
  L.push('| --- | ---: | ---: | ---: | ---: |')
  for (const s of names) {
    const x = sm(s)?.median
    L.push(`| ${label(doc, s)} | ${ms(x?.keepAliveP50Ms)} / ${ms(x?.keepAliveP99Ms)} | ${ms(x?.newConnP50Ms)} / ${ms(x?.newConnP99Ms)} | ${ms(x?.coldMs)} | ${ms(x?.warmMs)} |`)
  }
  L.push('')
  const coldDefault = sm('beam-tcp')?.median.coldDefaultMs
  const coldBeside = sm('beam-tcp')?.median.coldPairLoopbackMs
  if (coldDefault != null && coldBeside != null) {
    L.push(`Cold start with the share on its **default listen addresses** (TCP and QUIC on every interface, IPv4 and IPv6, as \`beam share\` starts without \`--listen\`; its connect string carries every address of this machine): **${ms(coldDefault)} ms**, next to **${ms(coldBeside)} ms** for a share on one loopback TCP address measured beside it (the two back to back before the direct TCP scenario starts, which one goes first alternating by round; the direct TCP row's ${ms(sm('beam-tcp')?.median.coldMs)} ms is that scenario's own share, measured after them). Both offline: no bootstrap node, explicit ICE servers.`)
    L.push('')
  } else if (coldDefault != null) {
    L.push(`Cold start with the share on its **default listen addresses** (TCP and QUIC on every interface, IPv4 and IPv6, as \`beam share\` starts without \`--listen\`; its connect string carries every address of this machine): **${ms(coldDefault)} ms**, next to ${ms(sm('beam-tcp')?.median.coldMs)} ms for the share on one loopback TCP address (the direct TCP row). Both offline: no bootstrap node, explicit ICE servers.`)
    L.push('')
  }
  L.push(`## Concurrency and memory (${doc.settings.concurrency.toLocaleString('en-US')} connections at once, ${fmt(doc.settings.concurrentEach / 1024)} KiB each)`)
  L.push('')
  L.push('| path | connections that succeeded (median) | aggregate MB/s | RSS idle MiB (share / connect / relay) | RSS peak, bulk transfers | RSS peak, concurrent connections |')
  L.push('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const s of names) {
    const x = sm(s)?.median
    const tri = (a?: number, b?: number, c?: number): string => [a, b, c].map(v => fmt(v)).join(' / ')
    L.push(`| ${label(doc, s)} | ${fmt(x?.concurrentOk)} / ${fmt(doc.settings.concurrency)} | ${fmt(x?.concurrentMBps)} | ${tri(x?.rssIdleShareMiB, x?.rssIdleConnectMiB, x?.rssIdleRelayMiB)} | ${tri(x?.rssLoadShareMiB, x?.rssLoadConnectMiB, x?.rssLoadRelayMiB)} | ${tri(x?.rssConcShareMiB, x?.rssConcConnectMiB, x?.rssConcRelayMiB)} |`)
  }
  L.push('')
  L.push('For the forwarder "share" is the hop next to the service and "connect" the hop the client reaches; for holesail they are holesail-server and holesail-client.')
  L.push('')
  if (doc.circuits != null) L.push(...renderCircuits(doc.circuits, doc.circuitsFrom))
  if (doc.small != null) L.push(...renderSmall(doc.small, doc.smallFrom))
  if (doc.gateway?.results != null) L.push(...renderGateway(doc.gateway, doc.gatewayFrom))
  L.push('## Targets from the issue')
  L.push('')
  L.push('| target | measured | met |')
  L.push('| --- | --- | :---: |')
  for (const t of targets(doc)) L.push(`| ${t.text} | ${t.measured} | ${t.met == null ? 'not measured' : t.met ? 'yes' : '**no**'} |`)
  L.push('')
  L.push('## What limits it')
  L.push('')
  L.push('Every byte crosses each tunnel process once, so the busiest process bounds the throughput: at *c* CPU seconds per GiB it cannot move more than 1/*c* GiB per second with a whole core to itself, whatever the network does (on this shared 2-core machine, four busy processes per tunnel and other work get less than that). The table sets that CPU-bound ceiling (from the bulk transfers\' CPU time) beside the measured figure; where the two are close, the path is CPU-bound in that process, and the cost to cut is per-byte work there (encryption, muxing, copies, per-chunk overhead), not waiting.')
  L.push('')
  L.push('| path | CPU s per GiB: share / connect / relay | busiest process | CPU-bound ceiling MB/s | measured MB/s (slower direction) |')
  L.push('| --- | ---: | --- | ---: | ---: |')
  for (const s of names) {
    const x = sm(s)?.median
    if (x == null || x.cpuPerGiB == null) continue
    const roles = [['share', x.cpuSharePerGiB], ['connect', x.cpuConnectPerGiB], ['relay', x.cpuRelayPerGiB]] as const
    const busiest = roles.filter((r): r is readonly [typeof r[0], number] => r[1] != null).sort((a, b) => b[1] - a[1])[0]
    const ceiling = busiest != null && busiest[1] > 0 ? 1024 ** 3 / 1e6 / busiest[1] : undefined
    const measured = x.uploadMBps != null && x.downloadMBps != null ? Math.min(x.uploadMBps, x.downloadMBps) : undefined
    L.push(`| ${label(doc, s)} | ${roles.map(r => fmt(r[1], 1)).join(' / ')} | ${busiest?.[0] ?? '–'} | ${fmt(ceiling)} | ${fmt(measured)} |`)
  }
  L.push('')
  L.push(...LIMITS_TEXT)
  L.push('')
  if (profile != null) L.push(...renderProfile(profile))
  const errors: string[] = []
  for (const round of doc.rounds) {
    for (const s of names) {
      const r = round.results[s]
      if (r == null) continue
      const what = 'error' in r ? r.error : r.concurrency?.error != null ? `${fmt(r.concurrency.failed)} of ${fmt(r.concurrency.connections)} concurrent connections failed, the first with: ${r.concurrency.error}` : undefined
      if (what == null) continue
      errors.push(`- round ${round.round}, ${label(doc, s)}: ${what}`)
      for (const [role, lines] of Object.entries(r.logs ?? {})) errors.push(`  - ${role} logged: ${lines.map(l => `\`${l.replace(/`/g, "'").slice(0, 200)}\``).join('; ')}`)
    }
  }
  if (errors.length > 0) {
    L.push('## Failed measurements')
    L.push('')
    L.push('Failures are figures too: each is listed with the round it happened in and, where the processes logged warnings, their last lines.')
    L.push('')
    L.push(...errors)
    L.push('')
  }
  L.push('## Method')
  L.push('')
  L.push('- One service process answers two protocols on one port: a bulk protocol (a 16-byte header, then the client uploads N bytes and gets a one-byte acknowledgement, or downloads N bytes) and HTTP (`GET /` answers 2 bytes). The driver process is the client; every tunnel forwards one local port to that service.')
  L.push('- Scenarios, each in every round, in this order: raw TCP to the service; a plain two-hop Node TCP forwarder (two processes, `socket.pipe()` each way: the ceiling of any two-process tunnel in Node); a stock libp2p tunnel (two processes: TCP + Noise + yamux with default settings, joined to the sockets with beam\'s own byte pipe, so that it differs from beam by the libp2p configuration and beam\'s protocol only); `beam share` + `beam connect` over direct TCP (share listens on TCP only), direct QUIC (QUIC only), WebRTC (share reachable only through a `beam relay` on loopback, the connector upgrades to WebRTC, `BEAM_WEBRTC_BIND=127.0.0.1`, the only ICE server the relay\'s own STUN responder on loopback; measured once the `path` event says webrtc) and relayed (same, with `--no-webrtc`); holesail-server + holesail-client on a local hyperdht testnet of 5 nodes.')
  L.push('- beam runs as real CLI processes (`bin/beam.js … --json`, log level warn, `--ephemeral`, `--no-default-bootstrap`); the driver reads their JSON events. Every process is started per scenario and round, and killed by PID.')
  L.push('- Bulk: upload then download of the same size over a new connection each, timed from connect to the last byte (download) or to the acknowledgement (upload). CPU seconds are read from `/proc/<pid>/stat` (utime + stime) of every tunnel process before and after the two transfers, divided by the GiB moved. RSS (`VmRSS` of `/proc/<pid>/status`) is read 0.5 s after start (idle) and sampled every 100 ms during the bulk transfers and, separately, during the concurrency test (peaks).')
  L.push('- Latency: sequential `GET /` requests after one warm-up request, through one keep-alive connection, and with a new connection (`connection: close`) each; p50 and p99 by nearest rank.')
  L.push('- Cold: from spawning the connecting process (`beam connect`, the forwarder\'s first hop, holesail-client) with a fixed local port to the first byte of an HTTP answer through it, polling the port every 5 ms. Warm: for beam, the driver\'s own beam node (loaded once) dials the share with the connect string (`connect()` with its access probe) and fetches the first byte, then hangs up; for holesail, a new local TCP connection (holesail opens a new DHT connection for each); for the forwarder, a new TCP connection through both hops. Not measured for WebRTC, whose connection starts relayed.')
  L.push('- Concurrency: all connections are opened at once, each downloads its share; a connection succeeds when every byte arrived within 60 s.')
  L.push('- Ratios are computed within each round and their median is shown; the other figures are medians over rounds.')
  L.push('- holesail never reaches public nodes: holesail-server and holesail-client build `new HyperDHT()` without options, which would bootstrap from hyperdht\'s hard-coded public nodes inside the constructor; `bench/lib/holesail.cjs` swaps the cached hyperdht module for a subclass that always passes the local testnet\'s list (and refuses to start without one). It also replaces `bare-dgram` (holesail\'s piping library requires it; its dependency bare-dns needs the Bare runtime\'s `require.addon`) by Node\'s dgram: that is the shim holesail needs to run on Node. Checked with `strace -f -e trace=connect,sendto,sendmsg,sendmmsg`: only 127.0.0.1 is addressed.')
  L.push('')
  L.push('## Measuring a real peer: `beam benchmark`')
  L.push('')
  L.push('The suite above compares tunnels on one machine. Between two machines, `beam benchmark <connect string>` measures a running `beam share` over each path it offers, one forced path at a time (`--backends tcp,quic,webrtc,relay`, `--duration 10s` per path): the median round trip of 20 small echoes, then an upload and a download on that one connection, with a progress line on a terminal and a table (or `--json` events) at the end. The share answers only peers it would open a tunnel for. See [cli.md](cli.md#beam-benchmark-target). `test/e2e/benchmark.test.ts` runs it on loopback (with a refused peer), and `test/lab/benchmark.test.ts` across the NAT lab, where the routers\' conntrack byte counters show that each forced path carried its bytes where it says: through the relay, peer to peer after a WebRTC hole punch, or straight to a public share over TCP and QUIC.')
  L.push('')
  L.push('## Machine and versions')
  L.push('')
  L.push('| | |')
  L.push('| --- | --- |')
  L.push(`| CPU | ${mach.cpu}, ${mach.cores} cores, ${mach.memoryGiB} GiB |`)
  L.push(`| kernel | ${mach.kernel} |`)
  L.push(`| Node | ${mach.node} |`)
  L.push(`| beam | ${mach.beam}${mach.commit != null ? ` (commit ${mach.commit})` : ''} |`)
  for (const [p, v] of Object.entries(mach.packages)) L.push(`| ${p} | ${v ?? '–'} |`)
  L.push(`| run | ${doc.settings.mode}, ${doc.rounds.length} of ${doc.settings.rounds} round(s) done, ${fmt(doc.seconds)} s |`)
  L.push('')
  return L.join('\n')
}

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/**
 * A horizontal grouped bar chart of upload and download throughput per path.
 * The axis ends a little past the largest bar other than raw TCP, so that
 * the tunnels stay readable; raw TCP's bars are drawn cut (a break mark and
 * the value) when they go past it. Dashed lines are the issue's targets.
 */
export function renderSvg (doc: BenchDoc): string {
  const rows = doc.scenarios.map(s => ({ name: s.name, label: s.label, up: doc.summary[s.name]?.median.uploadMBps ?? 0, down: doc.summary[s.name]?.median.downloadMBps ?? 0 }))
  const W = 920
  const left = 235
  const right = 70
  const barH = 13
  const rowH = 38
  const top = 92
  const H = top + rows.length * rowH + 36
  const others = rows.filter(r => r.name !== 'raw-tcp').flatMap(r => [r.up, r.down])
  const maxV = Math.max(450, ...others) * 1.08
  const scale = (W - left - right) / maxV
  const x = (v: number): number => left + Math.min(v, maxV) * scale
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="12" y="24" font-size="16" font-weight="bold">beam throughput on loopback, MB/s (higher is better)</text>`)
  out.push(`<text x="12" y="44" font-size="12" fill="#4a5568">median of ${doc.rounds.length} round(s), ${doc.settings.sizeMiB} MiB each way, ${esc(doc.machine.cpu)} × ${doc.machine.cores} (shared machine), ${doc.startedAt.slice(0, 10)}</text>`)
  out.push(`<rect x="12" y="56" width="12" height="10" fill="#2b6cb0"/><text x="28" y="65" font-size="12">download</text>`)
  out.push(`<rect x="100" y="56" width="12" height="10" fill="#90cdf4"/><text x="116" y="65" font-size="12">upload</text>`)
  out.push(`<line x1="180" y1="61" x2="200" y2="61" stroke="#c53030" stroke-dasharray="4 3"/><text x="204" y="65" font-size="12" fill="#c53030">targets: WebRTC 100, relayed 150, direct 400</text>`)
  const grid = maxV > 1600 ? 400 : maxV > 800 ? 200 : 100
  for (let g = 0; g <= maxV; g += grid) {
    out.push(`<line x1="${x(g).toFixed(1)}" y1="${top - 8}" x2="${x(g).toFixed(1)}" y2="${H - 30}" stroke="#e2e8f0"/>`)
    out.push(`<text x="${x(g).toFixed(1)}" y="${H - 16}" text-anchor="middle" fill="#4a5568" font-size="11">${g}</text>`)
  }
  for (const v of [100, 150, 400]) {
    out.push(`<line x1="${x(v).toFixed(1)}" y1="${top - 8}" x2="${x(v).toFixed(1)}" y2="${H - 30}" stroke="#c53030" stroke-dasharray="4 3"/>`)
    out.push(`<text x="${x(v).toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#c53030" font-size="10">${v}</text>`)
  }
  const bar = (y: number, v: number, fill: string): void => {
    const cut = v > maxV
    const w = Math.max(1, (cut ? maxV : v) * scale)
    out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${fill}"/>`)
    if (cut) {
      const bx = left + w - 24
      out.push(`<path d="M${bx} ${y - 1} l6 ${barH + 2} M${bx + 6} ${y - 1} l6 ${barH + 2}" stroke="#ffffff" stroke-width="3"/>`)
    }
    out.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 2}" font-size="11">${Math.round(v).toLocaleString('en-US')}</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    out.push(`<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(r.label)}</text>`)
    bar(y, r.down, '#2b6cb0')
    bar(y + barH + 2, r.up, '#90cdf4')
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** Read a result file and write the Markdown report and the chart. */
export function writeReport (file: string, md = join(ROOT, 'docs', 'benchmarks.md'), svg = join(ROOT, 'docs', 'benchmarks.svg')): void {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as BenchDoc
  if (doc.format !== 'beam-bench/1') throw new Error(`${file}: not a beam-bench/1 result file`)
  // the figures come from the rounds themselves (a report of an older file gets every current figure)
  doc.summary = summarise(doc.rounds, doc.scenarios.map(s => s.name))
  // a separate `--only circuits` run, until a full run carries its own figures
  const circuitsFile = join(dirname(file), 'circuits.json')
  if (doc.circuits == null && existsSync(circuitsFile)) {
    const part = JSON.parse(readFileSync(circuitsFile, 'utf8')) as BenchDoc
    if (part.circuits != null) {
      doc.circuits = part.circuits
      doc.circuitsFrom = `a separate \`node bench/run.ts --only circuits\` run (bench/results/circuits.json, ${part.startedAt.slice(0, 16).replace('T', ' ')} UTC)`
    }
  }
  // a separate `--only gateway` run, until a full run carries its own figures
  const gatewayFile = join(dirname(file), 'gateway.json')
  if (doc.gateway == null && existsSync(gatewayFile)) {
    const part = JSON.parse(readFileSync(gatewayFile, 'utf8')) as GatewayResult
    if (part.results != null) {
      doc.gateway = part
      doc.gatewayFrom = `a separate \`node bench/run.ts --only gateway\` run (bench/results/gateway.json, ${(part.date ?? '').slice(0, 16).replace('T', ' ')} UTC)`
    }
  }
  // a separate `--only small` run, until a full run carries its own figures
  const smallFile = join(dirname(file), 'small-full.json')
  if (doc.small == null && existsSync(smallFile)) {
    const part = JSON.parse(readFileSync(smallFile, 'utf8')) as SmallDoc
    doc.small = part
    doc.smallFrom = `a separate \`node bench/run.ts --only small\` run (bench/results/small-full.json, ${(part.startedAt ?? '').slice(0, 16).replace('T', ' ')} UTC)`
  }
  const profFile = join(dirname(file), 'profile.json')
  const profile = existsSync(profFile) ? JSON.parse(readFileSync(profFile, 'utf8')) as ProfileDoc : undefined
  writeFileSync(svg, renderSvg(doc))
  writeFileSync(md, renderMarkdown(doc, relative(join(md, '..'), svg), profile))
  process.stderr.write(`wrote ${md} and ${svg}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { md: { type: 'string' }, svg: { type: 'string' } } })
  writeReport(positionals[0] ?? join(ROOT, 'bench', 'results', 'latest.json'), values.md, values.svg)
}
