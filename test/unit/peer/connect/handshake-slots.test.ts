import { describe, it, expect } from 'vitest'
import { HandshakeSlots } from '../../../../src/peer/connect/handshake-slots.ts'

describe('handshake slots', () => {
  it('keeps at most max in flight and lets the rest in, first come first served, as slots come back', async () => {
    const slots = new HandshakeSlots(2)
    const order: number[] = []
    const a = await slots.take()
    const b = await slots.take()
    const waiting = [3, 4, 5].map(async n => { const release = await slots.take(); order.push(n); return release })
    await Promise.resolve()
    expect(slots.queued).toBe(3)
    expect(order).toEqual([])
    a()
    a() // a second call gives back nothing more
    const r3 = await waiting[0]
    expect(order).toEqual([3])
    expect(slots.queued).toBe(2)
    b()
    r3?.()
    await Promise.all(waiting)
    expect(order).toEqual([3, 4, 5])
    expect(slots.queued).toBe(0)
  })

  it('a waiter whose signal aborts leaves the line and takes no slot', async () => {
    const slots = new HandshakeSlots(1)
    const held = await slots.take()
    const ac = new AbortController()
    const gone = slots.take(ac.signal)
    const next = slots.take()
    ac.abort(new Error('closed'))
    await expect(gone).rejects.toThrow('closed')
    expect(slots.queued).toBe(1)
    held()
    const release = await next
    release()
    // the slot is free again: taken at once
    const again = await slots.take(AbortSignal.timeout(1000))
    again()
  })

  it('refuses a cap below one', () => {
    expect(() => new HandshakeSlots(0)).toThrow(RangeError)
  })
})
