/**
 * Renewed relay reservations expire one TTL after their LAST renewal
 * (src/relay/reservation-renewal.ts). circuit-relay-v2 4.2.13 with
 * retimeable-signal 1.0.1 expired a reservation renewed twice one TTL after
 * its FIRST renewal, cutting every relayed connection through it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam } from 'beam'
import type { BeamNode } from 'beam'
import { isRenewableStore, renewableSignal } from '../../../src/relay/reservation-renewal.ts'
import { ReservationExpiredError } from '../../../src/relay/errors.ts'

describe('renewableSignal', () => {
  it('fires after its time, later after a reset, never after clear', async () => {
    const t0 = Date.now()
    const a = renewableSignal(100)
    await sleep(60)
    a.reset(200)
    await sleep(120)
    a.reset(200)
    expect(a.aborted).toBe(false)
    await new Promise<void>(resolve => { a.addEventListener('abort', () => { resolve() }) })
    // not before its last reset (t ≈ 180 ms) + 200 ms
    expect(Date.now() - t0).toBeGreaterThanOrEqual(370)
    expect(a.reason).toBeInstanceOf(ReservationExpiredError)

    const b = renewableSignal(50)
    b.clear()
    await sleep(120)
    expect(b.aborted).toBe(false)
  })
})

describe('a beam relay renewing a reservation', () => {
  let relay: BeamNode | undefined
  afterEach(async () => { await relay?.stop(); relay = undefined })

  it('keeps it for one TTL after the last renewal, then drops it', async () => {
    const ttl = 3000
    relay = await createBeam({ dht: false, listen: ['/ip4/127.0.0.1/tcp/0'], relayServer: { reservationTtlMs: ttl }, transports: { webrtc: false } })
    const service = (relay.libp2p.services as Record<string, unknown>).relay as { reservationStore?: unknown } | undefined
    const store = service?.reservationStore
    expect(isRenewableStore(store)).toBe(true)
    if (!isRenewableStore(store)) return
    const holder = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const addr = multiaddr('/ip4/127.0.0.1/tcp/4001')

    const t0 = Date.now()
    store.reserve(holder, addr)
    await sleep(1000)
    store.reserve(holder, addr) // first renewal: expiry t0 + 4 s
    await sleep(1000)
    store.reserve(holder, addr) // second renewal: expiry t0 + 5 s
    // the library's stale timer of the first renewal fired at t0 + 4 s
    await sleep(Math.max(0, t0 + 4500 - Date.now()))
    const at = Date.now() - t0
    expect(store.reservations.get(holder), `reservation gone at ${at} ms, before the last renewal's TTL (5000 ms)`).toBeDefined()
    // and it does end: one TTL after the last renewal
    await sleep(Math.max(0, t0 + 5800 - Date.now()))
    expect(store.reservations.get(holder)).toBeUndefined()
  }, 20_000)
})
