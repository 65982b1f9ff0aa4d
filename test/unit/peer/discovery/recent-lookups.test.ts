/**
 * One DHT walk per target (src/peer/discovery/recent-lookups.ts): callers
 * that ask while a lookup runs join it, callers within the reuse time get
 * its answer, an aborted lookup is no answer, and the last caller to leave
 * stops a running lookup.
 */
import { describe, expect, it } from 'vitest'
import { LOOKUP_REUSE_TIME, RecentLookups } from '../../../../src/peer/discovery/recent-lookups.ts'

class NotFound extends Error {
  constructor () { super('not found'); this.name = 'NotFound' }
}

function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000_000
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('RecentLookups', () => {
  it('joins a running lookup and reuses its answer within the reuse time, then looks again', async () => {
    const c = clock()
    const recent = new RecentLookups<string>({ now: c.now })
    let walks = 0
    const walk = async (): Promise<string> => { walks++; await new Promise(resolve => setTimeout(resolve, 20)); return `answer ${walks}` }
    const [a, b, d] = await Promise.all([recent.run('p', walk), recent.run('p', walk), recent.run('p', walk)])
    expect(walks).toBe(1)
    expect([a.value, b.value, d.value]).toEqual(['answer 1', 'answer 1', 'answer 1'])
    expect([a.reused, b.reused, d.reused]).toEqual([false, true, true])
    c.advance(LOOKUP_REUSE_TIME - 1)
    const again = await recent.run('p', walk)
    expect(again).toEqual({ value: 'answer 1', reused: true, ageMs: LOOKUP_REUSE_TIME - 1 })
    expect(walks).toBe(1)
    c.advance(1)
    expect((await recent.run('p', walk)).value).toBe('answer 2')
    // another target has its own walk
    expect((await recent.run('q', walk)).value).toBe('answer 3')
  })

  it('reuses "not found" too, but not a failure that is no answer', async () => {
    const c = clock()
    let walks = 0
    const recent = new RecentLookups<string>({ now: c.now, isAnswer: err => err instanceof NotFound })
    const notFound = async (): Promise<string> => { walks++; throw new NotFound() }
    await expect(recent.run('p', notFound)).rejects.toThrow(NotFound)
    await expect(recent.run('p', notFound)).rejects.toThrow(NotFound)
    expect(walks).toBe(1)
    const broken = async (): Promise<string> => { walks++; throw new Error('socket closed') }
    await expect(recent.run('q', broken)).rejects.toThrow('socket closed')
    await expect(recent.run('q', broken)).rejects.toThrow('socket closed')
    expect(walks).toBe(3)
  })

  it('a caller that leaves ends only its wait; the last one to leave stops the lookup, which is then no answer', async () => {
    const recent = new RecentLookups<string>()
    let stopped: unknown
    let walks = 0
    const slow = async (signal: AbortSignal): Promise<string> => {
      walks++
      return await new Promise((resolve, reject) => {
        const t = setTimeout(() => { resolve('late') }, 200)
        signal.addEventListener('abort', () => { clearTimeout(t); stopped = signal.reason; reject(signal.reason) })
      })
    }
    const first = new AbortController()
    const second = new AbortController()
    const p1 = recent.run('p', slow, first.signal)
    const p2 = recent.run('p', slow, second.signal)
    first.abort(new Error('first left'))
    await expect(p1).rejects.toThrow('first left')
    expect(stopped).toBeUndefined()
    second.abort(new Error('second left'))
    await expect(p2).rejects.toThrow('second left')
    expect((stopped as Error).message).toBe('second left')
    // the stopped lookup is forgotten: the next caller walks again
    await new Promise(resolve => setTimeout(resolve, 10))
    expect((await recent.run('p', async () => { walks++; return 'fresh' })).value).toBe('fresh')
    expect(walks).toBe(2)
  })
})
