/**
 * The CLI's --json output: a busy event stream (the gateway's one event per
 * visitor request) leaves in one write per event-loop turn, in order with
 * every other event.
 */
import { describe, expect, it } from 'vitest'
import { createOutput } from '../../../src/cli/output.ts'

function capture (): { writes: string[], io: { stdout: { write: (s: string) => boolean }, stderr: { write: (s: string) => boolean } } } {
  const writes: string[] = []
  return { writes, io: { stdout: { write: (s: string) => { writes.push(s); return true } }, stderr: { write: () => true } } }
}

describe('createOutput', () => {
  it('writes the frequent events of one turn in one write, at the end of the turn', async () => {
    const { writes, io } = capture()
    const out = createOutput(true, io)
    for (let i = 0; i < 5; i++) out.frequentEvent('request', { n: i })
    expect(writes).toEqual([])
    await new Promise(resolve => setImmediate(resolve))
    expect(writes).toHaveLength(1)
    expect(writes[0]?.trimEnd().split('\n').map(l => JSON.parse(l) as unknown)).toEqual([0, 1, 2, 3, 4].map(n => ({ event: 'request', n })))
  })

  it('keeps the order: another event writes the pending ones first', async () => {
    const { writes, io } = capture()
    const out = createOutput(true, io)
    out.frequentEvent('request', { n: 1 })
    out.event('share-offline', { peerId: 'x' })
    out.frequentEvent('request', { n: 2 })
    await new Promise(resolve => setImmediate(resolve))
    expect(writes.join('').trimEnd().split('\n').map(l => (JSON.parse(l) as { event: string }).event)).toEqual(['request', 'share-offline', 'request'])
    expect(writes).toHaveLength(3)
  })

  it('writes nothing without --json', async () => {
    const { writes, io } = capture()
    const out = createOutput(false, io)
    out.frequentEvent('request', { n: 1 })
    await new Promise(resolve => setImmediate(resolve))
    expect(writes).toEqual([])
  })
})
