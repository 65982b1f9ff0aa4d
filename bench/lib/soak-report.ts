/**
 * docs/soak.md and docs/soak.svg from a soak result (bench/results/soak-latest.json):
 * pure functions of the JSON, in the style of bench/report.ts (same fonts,
 * palette and layout conventions, no chart library). The chart has two
 * panels over the same time axis: RSS per process, open fds per process;
 * the ramp and the warm-up are shaded.
 */
import type { Growth, PhaseVerdict, SoakSample } from './soak-stats.ts'
import { FLAT } from './soak-stats.ts'
import type { MachineInfo } from './machine.ts'

/** The machine and versions a soak ran on. */
export interface SoakMachine extends MachineInfo {
  loadAverageAtStart: Array<number | null>
  loadAverageAtEnd: Array<number | null>
}

/** A soak result file (`format: 'beam-soak/1'`). */
export interface SoakDoc {
  format: 'beam-soak/1'
  startedAt: string
  machine: SoakMachine
  settings: { minutes: number, connections: number, circuits: number, sampleSeconds: number, echoIntervalSeconds: number, circuitIntervalSeconds: number, drivers: number }
  /** Seconds from the first sample to the start of the soak window (the ramp), and the warm-up after it. */
  rampSeconds: number
  warmupSeconds: number
  /** Process names → what they are, in chart order. */
  processes: Record<string, string>
  samples: SoakSample[]
  growth: Record<string, Growth>
  phases: { tunnel: PhaseVerdict & { firstErrors: string[] }, circuits: PhaseVerdict & { firstErrors: string[], recheckOk: number | null } }
  verdict: { flat: boolean, nothingLost: boolean, pass: boolean }
  /** Per beam process: its `--json` events counted by name, the notable ones (first few), its stderr tail. */
  diagnostics?: Record<string, { events: Record<string, number>, notable: Array<Record<string, unknown>>, stderrTail: string }>
  error?: string
}

const COLORS = ['#2b6cb0', '#c53030', '#2f855a', '#d69e2e', '#6b46c1', '#718096']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A "nice" upper bound for an axis: 1, 2 or 5 × 10^k at or above `max`. */
export function niceMax (max: number): number {
  if (!(max > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p
  return 10 * p
}

/** One line of a panel: its label, colour, dash, and value at each sample (null: no point). */
interface Series { label: string, color: string, dashed: boolean, value: (s: SoakSample) => number | null }

/**
 * The chart, four panels over the same time axis: RSS and open fds of every
 * beam process, what is still open (tunnel connections, circuits as the
 * drivers count them and as the relay's gauge does), and the machine's load.
 */
export function renderSoakSvg (doc: SoakDoc): string {
  const W = 900
  const left = 70
  const right = W - 190
  const names = Object.keys(doc.processes)
  const tMax = Math.max(1, ...doc.samples.map(s => s.t))
  const x = (t: number): number => left + (right - left) * t / tMax
  const out: string[] = []
  const color = (i: number): string => COLORS[i % COLORS.length] ?? '#000'
  const procSeries = (value: (s: SoakSample, n: string) => number | null): Series[] => names.map((n, i) => ({ label: n, color: color(i), dashed: i % 2 === 1, value: s => value(s, n) }))
  const panel = (top: number, h: number, title: string, series: Series[], legend: boolean): void => {
    const max = niceMax(Math.max(0, ...doc.samples.flatMap(s => series.map(l => l.value(s) ?? 0))))
    const y = (v: number): number => top + h - h * v / max
    out.push(`<rect x="${x(0).toFixed(1)}" y="${top}" width="${(x(doc.rampSeconds) - x(0)).toFixed(1)}" height="${h}" fill="#edf2f7"/>`)
    out.push(`<rect x="${x(doc.rampSeconds).toFixed(1)}" y="${top}" width="${(x(Math.min(tMax, doc.rampSeconds + doc.warmupSeconds)) - x(doc.rampSeconds)).toFixed(1)}" height="${h}" fill="#fefcbf"/>`)
    out.push(`<text x="${left}" y="${top - 10}" font-weight="bold">${esc(title)}</text>`)
    const grid = h >= 200 ? 4 : 2
    for (let i = 0; i <= grid; i++) {
      const v = max * i / grid
      out.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${right}" y2="${y(v).toFixed(1)}" stroke="#e2e8f0"/>`)
      out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#4a5568" font-size="11">${(Number.isInteger(v) ? v : Number(v.toFixed(1))).toLocaleString('en-US')}</text>`)
    }
    const step = niceMax(tMax / 60 / 8)
    for (let k = 0; k * step * 60 <= tMax && k <= 20; k++) {
      const m = Number((k * step).toFixed(3))
      out.push(`<text x="${x(m * 60).toFixed(1)}" y="${top + h + 16}" text-anchor="middle" fill="#4a5568" font-size="11">${m} min</text>`)
    }
    series.forEach((l, i) => {
      const pts = doc.samples.flatMap(s => { const v = l.value(s); return v != null ? [`${x(s.t).toFixed(1)},${y(v).toFixed(1)}`] : [] })
      // dashed lines, so that two equal series both show
      if (pts.length > 0) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="7 4"' : ''}/>`)
      if (legend) {
        const ly = top + 4 + i * 20
        out.push(`<line x1="${right + 10}" y1="${ly + 5}" x2="${right + 30}" y2="${ly + 5}" stroke="${l.color}" stroke-width="3"${l.dashed ? ' stroke-dasharray="7 4"' : ''}/><text x="${right + 36}" y="${ly + 9}" font-size="12">${esc(l.label)}</text>`)
      }
    })
    out.push(`<line x1="${left}" y1="${top + h}" x2="${right}" y2="${top + h}" stroke="#4a5568"/>`)
  }
  const top1 = 100
  const top2 = top1 + 220 + 60
  const top3 = top2 + 220 + 60
  const top4 = top3 + 120 + 60
  const H = top4 + 80 + 50
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="12" y="24" font-size="16" font-weight="bold">beam soak: ${doc.settings.connections.toLocaleString('en-US')} connections through one tunnel, ${doc.settings.circuits.toLocaleString('en-US')} circuits through one relay</text>`)
  out.push(`<text x="12" y="44" font-size="12" fill="#4a5568">${doc.settings.minutes} min after the ramp, sampled every ${doc.settings.sampleSeconds} s; ${esc(doc.machine.cpu)} × ${doc.machine.cores} (shared machine), ${doc.startedAt.slice(0, 10)}; verdict: ${doc.verdict.pass ? 'flat after warm-up, nothing lost' : 'FAIL (see docs/soak.md)'}</text>`)
  out.push(`<rect x="12" y="54" width="12" height="10" fill="#edf2f7"/><text x="28" y="63" font-size="12">ramp</text>`)
  out.push(`<rect x="70" y="54" width="12" height="10" fill="#fefcbf"/><text x="86" y="63" font-size="12">warm-up (not in the growth figures)</text>`)
  panel(top1, 220, 'RSS, MiB', procSeries((s, n) => s.procs[n]?.rssMiB ?? null), true)
  out.push(`<text x="${right + 10}" y="${top1 + 4 + names.length * 20 + 10}" font-size="11" fill="#4a5568">after the warm-up:</text>`)
  names.forEach((n, i) => {
    const g = doc.growth[n]
    if (g != null) out.push(`<text x="${right + 36}" y="${top1 + 4 + names.length * 20 + 26 + i * 16}" font-size="11" fill="${color(i)}">${fmt(g.rssMiBPerMin, 2)} MiB/min, fds +${g.fdGrowth ?? '?'}</text>`)
  })
  panel(top2, 220, 'open file descriptors', procSeries((s, n) => s.procs[n]?.fds ?? null), true)
  panel(top3, 120, 'still open', [
    { label: 'tunnel connections', color: color(0), dashed: false, value: s => s.load.tunnel?.open ?? null },
    { label: 'circuits (drivers)', color: color(2), dashed: false, value: s => s.load.circuits?.open ?? null },
    { label: 'circuits (relay gauge)', color: color(3), dashed: true, value: s => s.relay?.beam_relay_circuits ?? null }
  ], true)
  panel(top4, 80, 'load average (1 min) of the machine', [{ label: 'load average', color: color(5), dashed: false, value: s => s.load1 }], false)
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function fmt (v: number | null | undefined, digits = 1): string {
  return v == null ? '–' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function int (v: number | null | undefined): string {
  return v == null ? '–' : v.toLocaleString('en-US')
}

/** docs/soak.md. */
export function renderSoakMarkdown (doc: SoakDoc, svgName: string): string {
  const m = doc.machine
  const s = doc.settings
  const L: string[] = []
  L.push(`# Soak: ${int(s.connections)} connections and ${int(s.circuits)} circuits for ${s.minutes} minutes`, '')
  L.push('<!-- generated by `node bench/soak.ts` from bench/results/soak-latest.json: do not edit by hand -->', '')
  L.push(`Whether beam holds a steady load without growing: ${int(s.connections)} TCP connections through one tunnel (\`beam share\` + \`beam connect\`, direct TCP on 127.0.0.1) and ${int(s.circuits)} circuits through one \`beam relay\` to a share reachable only through it, both at once for ${s.minutes} minutes after the ramp. Every tunnel connection sends an echo request every ${s.echoIntervalSeconds} s (64 to 1,087 bytes, compared byte for byte on return); every circuit sends an HTTP request every ${s.circuitIntervalSeconds} s. Nothing is reopened: a connection or circuit that fails once stays closed and counts. RSS and open file descriptors of every beam process are read from /proc every ${s.sampleSeconds} s.`, '')
  L.push(`**Verdict: ${doc.verdict.pass ? 'pass' : 'FAIL'}** — ${doc.verdict.flat ? 'flat after warm-up' : 'NOT flat after warm-up'}, ${doc.verdict.nothingLost ? 'nothing lost' : 'requests or connections LOST'}. Flat means an RSS slope (least squares over every sample after the warm-up) of at most ${FLAT.rssMiBPerMin} MiB/min and at most ${FLAT.fds} more open fds than at the end of the warm-up; the warm-up is the first ${doc.warmupSeconds} s after the ramp.`, '')
  if (doc.error != null) L.push(`**The run stopped early:** ${doc.error}`, '')
  L.push(`![RSS and open fds over time](${svgName})`, '')
  L.push(`Measured on ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC: ${m.cpu} × ${m.cores}, Node ${m.node}, beam ${m.beam} (commit ${m.commit ?? '?'}), js-libp2p ${m.libp2p ?? '?'}. **The machine (${m.cores} cores) was shared with other work during the soak** (load average ${m.loadAverageAtStart.join(', ')} at the start, ${m.loadAverageAtEnd.join(', ')} at the end; the 1-minute figure at each sample is in the JSON): absolute RSS and request rates move with it, the shape of the curves much less.`, '')
  L.push(`Re-run: \`npm run bench:soak\` (10 minutes after the ramp, which takes about a minute on a quiet machine and took this run ${(doc.rampSeconds / 60).toFixed(1)} min; \`-- --minutes 2 --connections 200 --circuits 200\` for a short check). It is not part of \`npm run bench\` nor of CI. It writes bench/results/soak-latest.json, this page and the chart; \`node bench/soak.ts --report\` regenerates them from the JSON alone.`, '')
  L.push('## Growth after the warm-up', '')
  L.push('| process | RSS at warm-up end MiB | RSS at end MiB | RSS max MiB | RSS slope MiB/min | fds at warm-up end | fds at end | fds max | flat |')
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |')
  for (const [n, what] of Object.entries(doc.processes)) {
    const g = doc.growth[n]
    L.push(`| ${n} (${what}) | ${fmt(g?.rssFirstMiB)} | ${fmt(g?.rssLastMiB)} | ${fmt(g?.rssMaxMiB)} | ${fmt(g?.rssMiBPerMin, 2)} | ${int(g?.fdsFirst)} | ${int(g?.fdsLast)} | ${int(g?.fdsMax)} | ${g?.flat === true ? 'yes' : 'no'} |`)
  }
  L.push('')
  L.push('## Requests', '')
  L.push('| load | opened / wanted | open at the end | requests | answered correctly | errors | in flight at the end | lost |')
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  const row = (name: string, p: PhaseVerdict): void => {
    L.push(`| ${name} | ${int(p.opened)} / ${int(p.wanted)} | ${int(p.openAtEnd)} | ${int(p.requests)} | ${int(p.ok)} | ${int(p.errors)} | ${int(p.inFlight)} | ${int(p.lost)} |`)
  }
  row(`echo through one tunnel, every ${s.echoIntervalSeconds} s`, doc.phases.tunnel)
  row(`HTTP through one relay, every ${s.circuitIntervalSeconds} s`, doc.phases.circuits)
  L.push('')
  L.push(`"Lost" is requests − answered correctly − in flight: a request that timed out, came back different, or whose connection closed. The tunnel's load stops asking and waits for every answer before the end; the circuit drivers (${s.drivers} processes of in-process connector nodes, bench/lib/circuit-driver.ts) keep asking until stopped, so a few requests are in flight at the last count.${doc.phases.circuits.recheckOk != null ? ` A last request on every circuit at the end: ${int(doc.phases.circuits.recheckOk)} answered.` : ''}`, '')
  const errs = [...doc.phases.tunnel.firstErrors.map(e => `tunnel: ${e}`), ...doc.phases.circuits.firstErrors.map(e => `circuits: ${e}`)]
  if (errs.length > 0) {
    L.push('First errors:', '')
    for (const e of errs) L.push(`- ${e.replace(/\|/g, '\\|')}`)
    L.push('')
  }
  const diag = Object.entries(doc.diagnostics ?? {}).filter(([, d]) => d.notable.length > 0)
  if (diag.length > 0) {
    L.push('Notable events of the beam processes (the first few; all counts and the stderr tails are in the JSON):', '')
    for (const [n, d] of diag) for (const e of d.notable.slice(0, 5)) L.push(`- ${n}: \`${JSON.stringify(e).slice(0, 300).replace(/\|/g, '\\|')}\``)
    L.push('')
  }
  return L.join('\n')
}
