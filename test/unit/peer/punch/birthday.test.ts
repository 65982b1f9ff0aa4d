import { describe, expect, it } from 'vitest'
import { EASY_MAX_PROBES, EASY_PROBE_RATE, HARD_SOCKETS, MAX_PREDICTION_WINDOW, NAT_PORT_MAX, NAT_PORT_MIN, birthdaySuccess, predictedPorts, probeOrder, probesFor } from '../../../../src/peer/punch/index.ts'

describe('punch/birthday: the odds and the port order', () => {
  it('gives the published birthday figures for 256 open ports out of 64,512', () => {
    // 1 − (1 − 256/64512)^k, near enough (the exact form draws without replacement)
    expect(birthdaySuccess(HARD_SOCKETS, 256)).toBeCloseTo(0.64, 2)
    expect(birthdaySuccess(HARD_SOCKETS, 1024)).toBeCloseTo(0.984, 2)
    expect(birthdaySuccess(HARD_SOCKETS, EASY_MAX_PROBES)).toBeGreaterThan(0.9996)
    expect(probesFor(0.5, HARD_SOCKETS)).toBe(175)
    expect(probesFor(0.9, HARD_SOCKETS)).toBe(577)
    expect(probesFor(0.99, HARD_SOCKETS)).toBe(1148)
    // the 5 s target at the default rate: ≥ 90 % once 577 probes are out (2.3 s)
    expect(577 / EASY_PROBE_RATE).toBeLessThan(2.5)
    expect(birthdaySuccess(0, 100)).toBe(0)
    expect(birthdaySuccess(10, 64510)).toBe(1)
  })

  it('predicts the ports between the two STUN answers only when they look like a sequence', () => {
    expect(predictedPorts({ before: 20000, after: 20257 })).toHaveLength(256)
    expect(predictedPorts({ before: 20000, after: 20257 })[0]).toBe(20001)
    expect(predictedPorts({ before: 20000, after: 20001 })).toEqual([])
    expect(predictedPorts({ before: 20000, after: 20000 + MAX_PREDICTION_WINDOW + 1 })).toEqual([])
    // a sequence that wrapped at the end of the NAT's range (unknown here): both ends are guessed
    const wrapped = predictedPorts({ before: 20900, after: 20133 }, 256)
    expect(wrapped).toHaveLength(512)
    expect(wrapped.slice(0, 2)).toEqual([20901, 20902])
    expect(wrapped.slice(-2)).toEqual([20131, 20132])
    expect(predictedPorts({ before: 65500, after: 1100 }, 256)).toEqual([...Array.from({ length: 35 }, (_, i) => 65501 + i), ...Array.from({ length: 76 }, (_, i) => 1024 + i)])
    expect(predictedPorts(undefined)).toEqual([])
  })

  it('probes predicted ports first, then distinct random ports of the NAT range, never more than asked', () => {
    let seed = 1
    const random = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
    const predicted = [20001, 20002, 20002, 20003]
    const order = probeOrder(EASY_MAX_PROBES, predicted, random)
    expect(order).toHaveLength(EASY_MAX_PROBES)
    expect(order.slice(0, 3)).toEqual([20001, 20002, 20003])
    expect(new Set(order).size).toBe(order.length)
    for (const p of order) {
      expect(p).toBeGreaterThanOrEqual(NAT_PORT_MIN)
      expect(p).toBeLessThanOrEqual(NAT_PORT_MAX)
    }
    expect(probeOrder(2, predicted, random)).toEqual([20001, 20002])
  })
})
