import { describe, expect, it } from 'vitest'
import { atTurnEnd, inTurnEnd } from '../../../src/tunnel/index.ts'

async function turn (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('atTurnEnd', () => {
  it('runs the work of a turn in one check phase, `last` work after all other, work queued meanwhile included', async () => {
    const order: string[] = []
    let immediates = 0
    setImmediate(() => { immediates++ })
    atTurnEnd(() => { order.push('flush') }, { last: true })
    atTurnEnd(() => {
      order.push(`a ${String(inTurnEnd())}`)
      atTurnEnd(() => { order.push('queued by a') })
      atTurnEnd(() => {
        order.push('last queued by a')
        atTurnEnd(() => { order.push('queued by last') })
      }, { last: true })
    })
    atTurnEnd(() => { order.push('b') })
    expect(inTurnEnd()).toBe(false)
    await turn()
    expect(order).toEqual(['a true', 'b', 'queued by a', 'flush', 'last queued by a', 'queued by last'])
    expect(immediates).toBe(1)
    expect(inTurnEnd()).toBe(false)
  })

  it('schedules a new turn for work queued after the turn ran', async () => {
    const order: string[] = []
    atTurnEnd(() => { order.push('first') })
    await turn()
    atTurnEnd(() => { order.push('second') })
    await turn()
    expect(order).toEqual(['first', 'second'])
  })

  it('runs work queued a few promise hops after the turn\'s callbacks in the same turn, not in another loop iteration', async () => {
    const order: string[] = []
    let immediates = 0
    atTurnEnd(() => {
      order.push('callback')
      void Promise.resolve().then(() => undefined).then(() => undefined).then(() => {
        expect(inTurnEnd()).toBe(true)
        atTurnEnd(() => { order.push(`three hops later, immediates ${immediates}`) }, { last: true })
      })
    })
    setImmediate(() => { immediates++ })
    await turn()
    await turn()
    expect(order).toEqual(['callback', 'three hops later, immediates 0'])
  })
})
