/** SourceRateLimiter (src/relay/source-rate.ts): per-source token buckets under a total cap. */
import { describe, expect, it } from 'vitest'
import { SourceRateLimiter } from '../../../src/relay/index.ts'

describe('SourceRateLimiter', () => {
  it('refills each source at its rate, caps the total, and never resets a busy source to make room', () => {
    let now = 0
    const r = new SourceRateLimiter({ burst: 2, perSecond: 1, maxSources: 2, totalPerSecond: 5, now: () => now })
    expect([r.allow('a'), r.allow('a'), r.allow('a')]).toEqual([true, true, false])
    now = 1000
    expect([r.allow('a'), r.allow('a')]).toEqual([true, false])
    // the table is full with a busy source and b: c waits rather than evicting a
    expect(r.allow('b')).toBe(true)
    expect(r.allow('c')).toBe(false)
    expect(r.size).toBe(2)
    // once a's and b's buckets are full again they are forgotten and c fits
    now = 4000
    expect(r.allow('c')).toBe(true)
    expect(r.size).toBe(1)
    // the total: 5 a second across sources
    const t = new SourceRateLimiter({ burst: 10, perSecond: 10, totalPerSecond: 5, now: () => now })
    const got = ['p', 'q', 'r', 's', 't', 'u', 'v'].map(src => t.allow(src))
    expect(got.filter(Boolean).length).toBe(5)
  })
})
