/**
 * test/helpers/tries.ts: a bounded retry that reports how many tries it
 * needed, so that the WebRTC dial and I2P lookup tests fail when the first
 * try did not do.
 */
import { describe, expect, it } from 'vitest'
import { triesReport, withTries } from '../helpers/tries.ts'

describe('withTries', () => {
  it('counts the tries, says so in one line per try, and keeps the failed tries\' errors', async () => {
    const lines: string[] = []
    const retried: number[] = []
    const r = await withTries('dial', 3, async (n) => { if (n < 2) throw new Error(`timeout ${n}`); return n * 10 }, {
      log: l => { lines.push(l) },
      beforeRetry: async (n) => { retried.push(n) }
    })
    expect(r).toMatchObject({ value: 20, tries: 2 })
    expect(r.errors.map(e => e.message)).toEqual(['timeout 1'])
    expect(retried).toEqual([1])
    expect(lines[0]).toMatch(/^dial: try 1 of at most 3 failed after \d+ ms: timeout 1$/)
    expect(lines[1]).toMatch(/^dial: succeeded on try 2 of at most 3 \(\d+ ms\); dial: needed 2 tries \(try 1: timeout 1\)$/)
    expect(triesReport('the dial', r)).toBe('the dial: needed 2 tries (try 1: timeout 1)')
  })

  it('one try when the first succeeds; the last error (naming every try) when none does, after at most maxTries', async () => {
    expect((await withTries('x', 3, async () => 'ok', { log: () => {} })).tries).toBe(1)
    let calls = 0
    const err = await withTries('lookup', 2, async () => { calls++; throw new Error(`no ${calls}`) }, { log: () => {} }).catch((e: Error) => e)
    expect(calls).toBe(2)
    expect((err as Error).message).toBe('lookup: needed 2 tries (try 1: no 1; try 2: no 2), none succeeded')
  })
})
