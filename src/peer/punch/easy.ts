import type { Socket } from 'node:dgram'
import { EASY_MAX_PROBES, EASY_PROBE_RATE, PUNCH_ACKS, PUNCH_ACK_SPACING, PUNCH_TIMEOUT } from './constants.ts'
import { HolePunchError } from './errors.ts'
import { PunchKind, decodePunchPacket, encodePunchPacket } from './packet.ts'
import { predictedPorts, probeOrder } from './birthday.ts'
import type { SequenceHint } from './birthday.ts'
import type { PunchResult } from './hard.ts'

/** Probes are sent in ticks of this many ms. */
const TICK_MS = 10
/** Probes one tick sends at most (a late timer catches up in steps this big). */
const MAX_BURST = 16

/** Options of {@link easyPunch}. */
export interface EasyPunchInit {
  /** The bound socket whose public mapping the hard side aims at. It stays open; the caller owns it. */
  socket: Socket
  /** The hard side's public IPv4 address: every probe goes there, and only datagrams from there count. */
  peerIp: string
  /** The attempt's token (PUNCH_TOKEN_LENGTH bytes). */
  token: Uint8Array
  /** The hard side's sequence hint: the ports between are probed first. @default unset */
  hint?: SequenceHint
  /** Probes per second. @default EASY_PROBE_RATE */
  rate?: number
  /** Probes at most. @default EASY_MAX_PROBES */
  maxProbes?: number
  /** Give up after this many ms. @default PUNCH_TIMEOUT */
  timeout?: number
  /** Ends the attempt. */
  signal?: AbortSignal
  /** Random source for the port order (tests). @default Math.random */
  random?: () => number
}

/**
 * The easy (endpoint-independent NAT, or public) side of a birthday punch:
 * from one socket, probe ports of the hard side's address (predicted ones
 * first, then random ones) at `rate` per second, at most `maxProbes`. The
 * first datagram with the token from the peer's address wins: it is
 * answered with acks, and the pair is the result.
 */
export async function easyPunch (init: EasyPunchInit): Promise<PunchResult> {
  init.signal?.throwIfAborted()
  const start = performance.now()
  const { socket, peerIp, token } = init
  const rate = init.rate ?? EASY_PROBE_RATE
  const timeout = init.timeout ?? PUNCH_TIMEOUT
  const order = probeOrder(init.maxProbes ?? EASY_MAX_PROBES, predictedPorts(init.hint), init.random)
  const probe = encodePunchPacket(PunchKind.PROBE, token)
  const ack = encodePunchPacket(PunchKind.ACK, token)
  let sent = 0
  let next = 0

  return await new Promise<PunchResult>((resolve, reject) => {
    let done = false
    const finish = (): void => {
      done = true
      clearInterval(ticker)
      clearTimeout(deadline)
      socket.off('message', onMessage)
      init.signal?.removeEventListener('abort', onAbort)
    }
    const onMessage = (msg: Buffer, rinfo: { address: string, port: number }): void => {
      if (done || rinfo.address !== peerIp || decodePunchPacket(msg, token) == null) return
      finish()
      const remote = { ip: rinfo.address, port: rinfo.port }
      for (let i = 0; i < PUNCH_ACKS; i++) {
        setTimeout(() => { try { socket.send(ack, remote.port, remote.ip) } catch { /* closed */ } }, i * PUNCH_ACK_SPACING)
      }
      resolve({ socket, localPort: socket.address().port, remote, ms: Math.round(performance.now() - start), packetsSent: sent + PUNCH_ACKS })
    }
    const onAbort = (): void => {
      finish()
      reject(init.signal?.reason instanceof Error ? init.signal.reason : new DOMException('aborted', 'AbortError'))
    }
    // the budget follows the clock, not the number of ticks: a timer that fires late
    // (a busy event loop) sends what is due, but never more than MAX_BURST at once
    const tick = (): void => {
      const due = Math.floor(rate * (performance.now() - start) / 1000) + 1
      let burst = Math.min(due - next, MAX_BURST)
      while (burst-- > 0 && next < order.length) {
        sent++
        try { socket.send(probe, order[next++] ?? 0, peerIp) } catch { /* the caller closed the socket: the deadline ends it */ }
      }
    }
    socket.on('message', onMessage)
    init.signal?.addEventListener('abort', onAbort, { once: true })
    const ticker = setInterval(tick, TICK_MS)
    const deadline = setTimeout(() => {
      finish()
      reject(new HolePunchError(`no port of ${order.length} probed answered within ${timeout} ms (${sent} probes)`, sent))
    }, timeout)
    tick()
  })
}
