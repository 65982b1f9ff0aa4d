import { describe, it, expect } from 'vitest'
import { FLAT, growthOf, parseVmRss, phaseVerdict, readProc, slope, warmupFor } from '../../../bench/lib/soak-stats.ts'
import type { SoakSample } from '../../../bench/lib/soak-stats.ts'
import { payload } from '../../../bench/lib/soak-echo.ts'
import { niceMax, renderSoakMarkdown, renderSoakSvg } from '../../../bench/lib/soak-report.ts'
import type { SoakDoc } from '../../../bench/lib/soak-report.ts'

// The pure half of the soak (bench/soak.ts): /proc parsing, the growth
// after the warm-up, the verdict, and the report rendered from a result.

const STATUS = 'Name:\tnode\nVmPeak:\t 1234567 kB\nVmSize:\t 1200000 kB\nVmHWM:\t  300000 kB\nVmRSS:\t  153600 kB\nRssAnon:\t  100000 kB\n'

/** Samples every 10 s for `minutes`, RSS = base + perMin × t (+ noise), fds = fds(t). */
function series (minutes: number, rss: (t: number) => number, fds: (t: number) => number): SoakSample[] {
  return Array.from({ length: minutes * 6 + 1 }, (_, i) => ({
    t: i * 10,
    procs: { relay: { rssMiB: rss(i * 10), fds: fds(i * 10) } },
    load: {},
    load1: 1
  }))
}

describe('soak: /proc', () => {
  it('reads VmRSS in MiB, not VmHWM or VmPeak', () => {
    expect(parseVmRss(STATUS)).toBe(150)
    expect(parseVmRss('Name:\tnode\nVmPeak:\t 1 kB\n')).toBeNull()
  })

  it('reads this process: some RSS and some open fds; nothing for a pid that is not there', () => {
    const me = readProc(process.pid)
    expect(me.rssMiB).toBeGreaterThan(10)
    expect(me.fds).toBeGreaterThanOrEqual(3)
    // pid_max is at most 2^22
    expect(readProc(2 ** 22 + 1)).toEqual({ rssMiB: null, fds: null })
  })
})

describe('soak: growth after the warm-up', () => {
  it('fits the slope over every point, in y per x', () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2)
    expect(slope([[0, 1]])).toBeNull()
    expect(slope([[1, 1], [1, 2]])).toBeNull()
  })

  it('a heap that grows in the ramp and the warm-up and then saws flat is flat', () => {
    // +50 MiB over the first 2 minutes, then a ±8 MiB sawtooth around 200
    const s = series(10, t => t < 120 ? 150 + 50 * t / 120 : 200 + ((t / 10) % 4 < 2 ? 8 : -8), t => t < 60 ? 30 : 1030)
    const g = growthOf(s, 'relay', 120)
    expect(Math.abs(g.rssMiBPerMin ?? NaN)).toBeLessThan(FLAT.rssMiBPerMin)
    expect(g.fdsFirst).toBe(1030)
    expect(g.fdGrowth).toBe(0)
    expect(g.flat).toBe(true)
    // measured from the start, the same samples grow
    expect(growthOf(s, 'relay', 0).flat).toBe(false)
  })

  it('a slow leak is not flat: 2 MiB/min', () => {
    const g = growthOf(series(10, t => 200 + 2 * t / 60, () => 1030), 'relay', 120)
    expect(g.rssMiBPerMin).toBeCloseTo(2, 2)
    expect(g.rssFirstMiB).toBe(204)
    expect(g.rssLastMiB).toBe(220)
    expect(g.flat).toBe(false)
  })

  it('fds that keep appearing after the warm-up are not flat, even with RSS flat', () => {
    const g = growthOf(series(10, () => 200, t => 1030 + Math.floor(t / 30)), 'relay', 120)
    expect(g.rssMiBPerMin).toBe(0)
    expect(g.fdGrowth).toBe(16)
    expect(g.flat).toBe(false)
  })

  it('a process that vanished, or too few samples, is not flat', () => {
    const gone = series(10, () => 200, () => 1030).map(s => s.t > 300 ? { ...s, procs: { relay: { rssMiB: null, fds: null } } } : s)
    expect(growthOf(gone, 'relay', 120).flat).toBe(false)
    expect(growthOf(series(1, () => 200, () => 10), 'relay', 50).flat).toBe(false)
    expect(growthOf(series(10, () => 200, () => 10), 'nobody', 120).flat).toBe(false)
  })

  it('the warm-up is 20 % of the window, at least one sample, at most 2 minutes', () => {
    expect(warmupFor(10, 10)).toBe(120)
    expect(warmupFor(60, 10)).toBe(120)
    expect(warmupFor(2, 10)).toBe(24)
    expect(warmupFor(0.5, 10)).toBe(10)
  })
})

describe('soak: requests lost', () => {
  it('lost is requests - answered - in flight; everything opened and still open passes', () => {
    const ok = phaseVerdict(1000, 1000, { open: 1000, requests: 300_000, ok: 299_990, errors: 0, inFlight: 10 })
    expect(ok).toMatchObject({ lost: 0, pass: true })
    const lost = phaseVerdict(1000, 1000, { open: 999, requests: 300_000, ok: 299_989, errors: 1, inFlight: 10 })
    expect(lost).toMatchObject({ lost: 1, openAtEnd: 999, pass: false })
    expect(phaseVerdict(1000, 998, { open: 998, requests: 10, ok: 10, errors: 0, inFlight: 0 }).pass).toBe(false)
    expect(phaseVerdict(1000, 1000, undefined).pass).toBe(false)
  })
})

describe('soak: echo payloads', () => {
  it('differ from request to request and connection to connection, 64 to 1,087 bytes, the same in every run', () => {
    const seen = new Set<string>()
    for (let id = 0; id < 20; id++) {
      for (let n = 0; n < 20; n++) {
        const p = payload(id, n)
        expect(p.length).toBeGreaterThanOrEqual(64)
        expect(p.length).toBeLessThanOrEqual(1087)
        seen.add(p.toString('hex'))
      }
    }
    expect(seen.size).toBe(400)
    expect(payload(3, 7).equals(payload(3, 7))).toBe(true)
  })
})

describe('soak: report', () => {
  const doc: SoakDoc = {
    format: 'beam-soak/1',
    startedAt: '2026-12-07T02:00:00.000Z',
    machine: { cpu: 'Test CPU <x>', cores: 2, memoryGiB: 4, kernel: '6', node: 'v24', beam: '0.1.0', commit: 'abc', libp2p: '3', packages: {}, loadAverageAtStart: [9, 6, 3], loadAverageAtEnd: [8, 7, 4] },
    settings: { minutes: 10, connections: 1000, circuits: 1000, sampleSeconds: 10, echoIntervalSeconds: 2, circuitIntervalSeconds: 10, drivers: 4 },
    rampSeconds: 60,
    warmupSeconds: 120,
    processes: { relay: '`beam relay`' },
    samples: series(11, () => 200, () => 1030),
    growth: {},
    phases: {
      tunnel: { ...phaseVerdict(1000, 1000, { open: 1000, requests: 5, ok: 5, errors: 0, inFlight: 0 }), firstErrors: [] },
      circuits: { ...phaseVerdict(1000, 1000, { open: 999, requests: 5, ok: 4, errors: 1, inFlight: 0 }), firstErrors: ['no HTTP answer | within 30000 ms'], recheckOk: 999 }
    },
    verdict: { flat: true, nothingLost: false, pass: false }
  }
  doc.growth.relay = growthOf(doc.samples, 'relay', 180)

  it('draws one line per process in the RSS and fd panels, one for the load, escaped text, a failing verdict in the subtitle', () => {
    const svg = renderSoakSvg(doc)
    expect(svg.startsWith('<svg')).toBe(true)
    // RSS, fds, load average; nothing "still open" (these samples carry no counters)
    expect(svg.match(/<polyline /g)).toHaveLength(3)
    expect(svg).toContain('load average (1 min)')
    expect(svg).toContain('Test CPU &lt;x&gt;')
    expect(svg).toContain('FAIL')
    expect(svg).not.toContain('NaN')
  })

  it('the page says the verdict, the load and what was lost', () => {
    const md = renderSoakMarkdown(doc, 'soak.svg')
    expect(md).toContain('**Verdict: FAIL**')
    expect(md).toContain('requests or connections LOST')
    expect(md).toContain('load average 9, 6, 3 at the start')
    expect(md).toMatch(/\| relay \(`beam relay`\) \| 200\.0 \| 200\.0 \| 200\.0 \| 0\.00 \| 1,030 \| 1,030 \| 1,030 \| yes \|/)
    expect(md).toContain('no HTTP answer \\| within')
  })

  it('axes end on 1, 2 or 5 × 10^k', () => {
    expect(niceMax(0)).toBe(1)
    expect(niceMax(170)).toBe(200)
    expect(niceMax(1030)).toBe(2000)
    expect(niceMax(0.8)).toBe(1)
    expect(niceMax(4.2)).toBe(5)
  })
})
