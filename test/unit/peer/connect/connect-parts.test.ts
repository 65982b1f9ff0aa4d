import { EventEmitter } from 'node:events'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { pino } from 'pino'
import { describe, it, expect } from 'vitest'
import { PeerUnreachableError, TunnelRefusedError } from '../../../../src/peer/errors.ts'
import type { ConnectEvents } from '../../../../src/peer/connect/events.ts'
import { LocalClients } from '../../../../src/peer/connect/local-listener.ts'
import { PROBE_ATTEMPTS, probeShare } from '../../../../src/peer/connect/probe.ts'
import { RetryGate, UPGRADE_RETRY_FIRST, UPGRADE_RETRY_MAX, upgradeRetryDelay } from '../../../../src/peer/connect/retry-gate.ts'

// The parts ConnectTunnel coordinates, each on its own. The tunnel as a whole
// runs over real nodes in test/integration (library, connectivity, round-trips).

const log = pino({ level: 'silent' })
const peerId = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')

/** A stream that a probe can close, and nothing else. */
function closableStream (): Stream {
  return { close: async () => {}, abort: () => {} } as unknown as Stream
}

describe('upgradeRetryDelay', () => {
  it('retries soon after the first failure, then backs off from 30 s, doubling, up to 5 min', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map(upgradeRetryDelay)).toEqual([UPGRADE_RETRY_FIRST, 30_000, 60_000, 120_000, 240_000, UPGRADE_RETRY_MAX, UPGRADE_RETRY_MAX, UPGRADE_RETRY_MAX])
  })
})

describe('RetryGate', () => {
  it('is open until a failure, then closed for the failure\'s delay, calling back once when it opens again', async () => {
    let ready = 0
    const gate = new RetryGate(() => { ready++ })
    expect(gate.open()).toBe(true)
    expect(gate.nextDelay()).toBe(UPGRADE_RETRY_FIRST)
    expect(gate.failed(50)).toBe(50)
    // the failure counted: the next one would wait the second step of the backoff
    expect(gate.nextDelay()).toBe(upgradeRetryDelay(1))
    expect(gate.open()).toBe(false)
    expect(gate.open()).toBe(false)
    await new Promise(resolve => setTimeout(resolve, 120))
    expect(ready).toBe(1)
    expect(gate.open()).toBe(true)
    gate.succeeded()
    expect(gate.nextDelay()).toBe(UPGRADE_RETRY_FIRST)
    // a hold is not a failure; close cancels the call back
    gate.holdFor(50)
    expect(gate.open()).toBe(false)
    expect(gate.nextDelay()).toBe(UPGRADE_RETRY_FIRST)
    gate.close()
    await new Promise(resolve => setTimeout(resolve, 120))
    expect(ready).toBe(1)
    gate.close()
  })
})

describe('probeShare', () => {
  const shutdown = new AbortController().signal

  it('gives up at once on an answer another attempt cannot change (refused)', async () => {
    let opens = 0
    const err = await probeShare({ open: async () => { opens++; throw new TunnelRefusedError('not allowed') }, peerId, log, shutdown }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TunnelRefusedError)
    expect(opens).toBe(1)
  })

  it('dials again when the connection dies under the handshake, and succeeds', async () => {
    let opens = 0
    await probeShare({ open: async () => { if (++opens < 3) throw new Error('stream reset'); return closableStream() }, peerId, log, shutdown })
    expect(opens).toBe(3)
  })

  it(`reports an unreachable peer after ${PROBE_ATTEMPTS} handshakes that died`, async () => {
    let opens = 0
    const err = await probeShare({ open: async () => { opens++; throw new Error('stream reset') }, peerId, log, shutdown }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PeerUnreachableError)
    expect((err as Error).message).toMatch(/3 times \(last: stream reset\)/)
    expect(opens).toBe(PROBE_ATTEMPTS)
  })

  it('stops waiting between attempts when the caller aborts, and throws what the next attempt throws', async () => {
    const ctl = new AbortController()
    const start = performance.now()
    const err = await probeShare({
      open: async (signal) => {
        signal?.throwIfAborted()
        setTimeout(() => { ctl.abort(new Error('cancelled by the caller')) }, 20)
        throw new Error('stream reset')
      },
      peerId,
      log,
      shutdown,
      signal: ctl.signal,
      attempts: 10
    }).catch((e: unknown) => e)
    expect((err as Error).message).toBe('cancelled by the caller')
    // the first wait is 500 ms
    expect(performance.now() - start).toBeLessThan(400)
  })
})

describe('LocalClients', () => {
  it('hands a client\'s first bytes to open(), and a refusal resets the client and emits tunnel:failed and refused', { timeout: 10_000 }, async () => {
    const events = new EventEmitter<ConnectEvents>()
    const shutdown = new AbortController()
    let early: Buffer | undefined
    const clients = new LocalClients({
      host: '127.0.0.1',
      remotePort: 0,
      log,
      events,
      open: async (_signal, data) => {
        // wait for the client's bytes, as the handshake's round trip would
        await new Promise<void>(resolve => { const stop = data.watch(() => { stop(); resolve() }) })
        early = Buffer.from(data.take() ?? new Uint8Array())
        throw new TunnelRefusedError('not allowed')
      },
      describeConnections: () => [],
      shutdown: shutdown.signal
    })
    await clients.start()
    try {
      expect(clients.port).toBeGreaterThan(0)
      const failed = new Promise<ConnectEvents['tunnel:failed'][0]>(resolve => { events.once('tunnel:failed', resolve) })
      const refused = new Promise<TunnelRefusedError>(resolve => { events.once('refused', resolve) })
      const socket: Socket = connect(clients.port, '127.0.0.1')
      const closed = new Promise<string | undefined>(resolve => {
        let code: string | undefined
        socket.on('error', (err: NodeJS.ErrnoException) => { code = err.code })
        socket.on('close', () => { resolve(code) })
      })
      socket.write('hello')
      const ev = await failed
      expect(ev.id).toBe(1)
      expect(ev.error).toBeInstanceOf(TunnelRefusedError)
      expect((await refused).message).toBe(ev.error.message)
      expect(early?.toString()).toBe('hello')
      expect(await closed).toBe('ECONNRESET')
    } finally {
      shutdown.abort()
      await clients.close()
    }
  })

  it('closes a client that arrives after the owner closed', { timeout: 10_000 }, async () => {
    const shutdown = new AbortController()
    let opens = 0
    const clients = new LocalClients({ host: '127.0.0.1', remotePort: 0, log, events: new EventEmitter<ConnectEvents>(), open: async () => { opens++; throw new Error('unexpected') }, describeConnections: () => [], shutdown: shutdown.signal })
    await clients.start()
    shutdown.abort()
    const socket = connect(clients.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise(resolve => socket.on('close', resolve))
    await clients.close()
    expect(opens).toBe(0)
  })
})
