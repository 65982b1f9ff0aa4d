/**
 * The DHT publishing schedule (src/peer/discovery/presence.ts): the backoff
 * between failed announcements and the sleep that an address change cuts
 * short. A node without a DHT never publishes.
 */
import { describe, it, expect } from 'vitest'
import { DhtPresence, MAX_PUBLISH_RETRY_DELAY, WakeableSleep, publishRetryDelay } from '../../../../src/peer/discovery/presence.ts'
import { createBeam, silentLogger } from '../../../../src/peer/index.ts'

describe('publishRetryDelay', () => {
  it('doubles from 2 s after each failure, up to a minute', () => {
    expect([1, 2, 3, 4, 5].map(publishRetryDelay)).toEqual([2000, 4000, 8000, 16_000, 32_000])
    expect(publishRetryDelay(6)).toBe(MAX_PUBLISH_RETRY_DELAY)
    expect(publishRetryDelay(50)).toBe(MAX_PUBLISH_RETRY_DELAY)
  })
})

describe('WakeableSleep', () => {
  it('sleeps the given time without a wake', async () => {
    const t = new WakeableSleep()
    const start = performance.now()
    await t.sleep(50)
    expect(performance.now() - start).toBeGreaterThanOrEqual(45)
  })

  it('wake ends the current sleep at once', async () => {
    const t = new WakeableSleep()
    const start = performance.now()
    const slept = t.sleep(60_000)
    setTimeout(() => { t.wake() }, 10)
    await slept
    expect(performance.now() - start).toBeLessThan(5000)
  })

  it('a wake with no sleep running does not cut the next one short', async () => {
    const t = new WakeableSleep()
    t.wake()
    const start = performance.now()
    await t.sleep(50)
    expect(performance.now() - start).toBeGreaterThanOrEqual(45)
  })
})

describe('DhtPresence', () => {
  it('is disabled and publishes nothing on a node without a DHT', async () => {
    const node = await createBeam({ dht: false })
    try {
      const events: string[] = []
      const presence = new DhtPresence({
        libp2p: node.libp2p,
        log: silentLogger(),
        events: { published: () => { events.push('published') }, publishFailed: () => { events.push('failed') } }
      })
      expect(presence.enabled).toBe(false)
      presence.startPublishing(['web'])
      await new Promise(resolve => setTimeout(resolve, 100))
      presence.stop()
      expect(events).toEqual([])
    } finally {
      await node.stop()
    }
  })

  it('waitForDhtPeer holds while the routing table is empty, and ends with its signal', async () => {
    const node = await createBeam({ dht: {} })
    const presence = new DhtPresence({ libp2p: node.libp2p, log: silentLogger(), events: { published: () => {}, publishFailed: () => {} } })
    try {
      expect(presence.enabled).toBe(true)
      const start = performance.now()
      await expect(presence.waitForDhtPeer(AbortSignal.timeout(100))).rejects.toThrow()
      expect(performance.now() - start).toBeGreaterThanOrEqual(90)
    } finally {
      presence.stop()
      await node.stop()
    }
  })
})
