import { describe, it, expect } from 'vitest'
import { VisitorStats, validBatch } from '../../../../src/peer/index.ts'
import type { VisitorBatch } from '../../../../src/peer/index.ts'

const LE = [1, 2, 5, 10, 25, 50, 100]

function batch (latencies: number[], statuses: number[]): VisitorBatch {
  const counts = new Array<number>(LE.length + 1).fill(0)
  for (const ms of latencies) {
    const i = LE.findIndex(le => ms <= le)
    const k = i < 0 ? LE.length : i
    counts[k] = (counts[k] ?? 0) + 1
  }
  const classes: VisitorBatch['classes'] = [0, 0, 0, 0, 0]
  for (const s of statuses) { const c = Math.floor(s / 100) - 1; classes[c] = (classes[c] ?? 0) + 1 }
  return { requests: latencies.length, classes, le: LE, counts, sumMs: latencies.reduce((a, b) => a + b, 0), maxMs: Math.max(...latencies), bytesIn: 10, bytesOut: 100 }
}

describe('VisitorStats', () => {
  it('adds batches up: counts by status class, latency percentiles as bucket bounds, bytes', () => {
    const v = new VisitorStats()
    expect(v.summary()).toMatchObject({ requests: 0, latency: null, lastReport: null })
    // 98 fast requests, 2 slow ones over two batches
    v.add(batch(new Array<number>(60).fill(3), new Array<number>(60).fill(200)), 1000)
    v.add(batch([...new Array<number>(38).fill(4), 80, 240], [...new Array<number>(38).fill(200), 404, 502]), 2000)
    const s = v.summary()
    expect(s.requests).toBe(100)
    expect(s.statusClasses).toEqual({ '1xx': 0, '2xx': 98, '3xx': 0, '4xx': 1, '5xx': 1 })
    expect(s.latency).toEqual({ p50Ms: 5, p99Ms: 100, meanMs: Math.round((60 * 3 + 38 * 4 + 80 + 240) / 100 * 10) / 10, maxMs: 240 })
    expect(s.bytesOut).toBe(200)
    expect(s.lastReport).toBe(new Date(2000).toISOString())
  })

  it('takes the maximum for the unbounded bucket, never more than it', () => {
    const v = new VisitorStats()
    v.add(batch([500, 700], [200, 200]), 0)
    expect(v.summary().latency).toMatchObject({ p50Ms: 700, p99Ms: 700, maxMs: 700 })
  })

  it('ignores malformed batches (they come from the network)', () => {
    const v = new VisitorStats()
    const good = batch([3], [200])
    for (const bad of [null, {}, { ...good, requests: -1 }, { ...good, classes: [1, 2] }, { ...good, counts: [1] }, { ...good, sumMs: Number.NaN }, { ...good, le: new Array(40).fill(1), counts: new Array(41).fill(0) }]) {
      expect(validBatch(bad)).toBe(false)
      v.add(bad as VisitorBatch, 0)
    }
    expect(v.summary().requests).toBe(0)
    expect(validBatch(good)).toBe(true)
  })
})
