import type { Socket } from 'node:dgram'
import { setMaxListeners } from 'node:events'
import { HARD_RESEND_INTERVAL, HARD_SOCKETS, PUNCH_ACKS, PUNCH_ACK_SPACING, PUNCH_TIMEOUT } from './constants.ts'
import { HolePunchError } from './errors.ts'
import { PunchKind, decodePunchPacket, encodePunchPacket } from './packet.ts'
import { bindUdp, closeQuietly, stunMapping } from './socket.ts'
import type { Endpoint } from './socket.ts'
import { looksSequential } from './birthday.ts'
import type { SequenceHint } from './birthday.ts'

/** A pair of sockets that works both ways: this side's socket and the peer's public endpoint. */
export interface PunchResult {
  /** The socket that got through, still open and bound to `localPort`: the caller owns it. */
  socket: Socket
  localPort: number
  /** The peer's public address and port for this socket. */
  remote: Endpoint
  /** Time from the start of this side's punch, in ms. */
  ms: number
  /** Datagrams this side sent. */
  packetsSent: number
}

/** Options of {@link startHardPunch}. */
export interface HardPunchInit {
  /** The easy side's public mapping (where every socket sends). */
  peer: Endpoint
  /** The attempt's token (PUNCH_TOKEN_LENGTH bytes). */
  token: Uint8Array
  /** Sockets to open. @default HARD_SOCKETS */
  sockets?: number
  /** A STUN server asked twice (three times when the first two do not look sequential) just before and once just after the burst, for this side's address and a sequence hint. @default unset (no hint) */
  stun?: Endpoint
  /** Give up after this many ms. @default PUNCH_TIMEOUT */
  timeout?: number
  /** Repeat the probes this often, in ms. @default HARD_RESEND_INTERVAL */
  resendInterval?: number
  /** Ends the attempt. */
  signal?: AbortSignal
}

/** A running hard-side punch. */
export interface HardPunch {
  /** This side's public address as a STUN server saw it, if one was given and answered. */
  publicIp?: string
  /**
   * The ports a STUN server saw just before and just after the burst, given
   * only when two flows in a row before it showed a sequential NAT (a step of
   * 1..MAX_SEQUENCE_STEP): the easy side probes between them first.
   */
  hint?: SequenceHint
  /** The working pair, or a HolePunchError (time out) / AbortError. */
  result: Promise<PunchResult>
  /** Stop and close every socket except a winner already handed out; a result still pending then fails with a HolePunchError. */
  close: () => void
}

/**
 * The hard (symmetric NAT) side of a birthday punch: open `sockets` UDP
 * sockets, each sending a probe to the easy side's one public mapping, so
 * that the NAT holds that many mappings towards it; the easy side then
 * probes ports of this side's address until it hits one. Every socket sends
 * only to `peer` (and, three times, to the STUN server); the first that receives a
 * datagram with the token from `peer` answers with acks and wins.
 */
export async function startHardPunch (init: HardPunchInit): Promise<HardPunch> {
  init.signal?.throwIfAborted()
  const start = performance.now()
  const count = init.sockets ?? HARD_SOCKETS
  const probe = encodePunchPacket(PunchKind.PROBE, init.token)
  const ack = encodePunchPacket(PunchKind.ACK, init.token)
  const sockets: Socket[] = []
  let sent = 0
  let winner: Socket | undefined
  let closed = false
  const timers: Array<ReturnType<typeof setTimeout>> = []
  /** Our own listener on each socket: only it is removed (the caller listens on the winner). */
  const handlers = new Map<Socket, (msg: Buffer, rinfo: { address: string, port: number }) => void>()
  const unlisten = (s: Socket): void => {
    const h = handlers.get(s)
    if (h != null) s.off('message', h)
    handlers.delete(s)
  }

  /** Settles a result still pending when the punch is closed (set once the promise exists). */
  let abandon: (() => void) | undefined
  const close = (): void => {
    if (closed) return
    closed = true
    abandon?.()
    // a winner's acks still go out (their timers stay); everything else stops
    if (winner == null) for (const t of timers) clearTimeout(t)
    for (const s of sockets) {
      unlisten(s)
      if (s !== winner) closeQuietly(s)
    }
  }

  let before: Endpoint | undefined
  /** Whether two of the answers before the burst were a small step apart (a sequential NAT). */
  let sequential = false
  let after: Endpoint | undefined
  /** STUN flows opened, counted in `sent` once the last one is done. */
  let stunFlows = 0
  const ask = async (): Promise<Endpoint | undefined> => {
    if (init.stun == null) return undefined
    stunFlows++
    const s = await bindUdp()
    try { return await stunMapping(s, init.stun, init.signal != null ? { signal: init.signal } : {}) } finally { closeQuietly(s) }
  }
  try {
    // two flows in a row: a sequential NAT shows it by a small step between their ports.
    // One more when they do not, compared with both: a wrap of the NAT's range
    // breaks the step between one pair, and a flow whose inside port the kernel
    // handed out again while the NAT still tracks its earlier namesake keeps
    // that old mapping, an odd one out (the second answer, when it is the odd
    // one, breaks both of its steps; the first and third are still two apart).
    // A random NAT costs one more STUN round trip.
    const first = await ask()
    before = await ask()
    sequential = looksSequential(first, before)
    if (!sequential && before != null) {
      const third = await ask()
      // the third is then the last mapping before the burst, which the hint starts from
      if (looksSequential(before, third) || looksSequential(first, third)) {
        before = third
        sequential = true
      }
    }
    for (let i = 0; i < count; i++) sockets.push(await bindUdp())
  } catch (err) {
    close()
    throw err
  }

  const { promise, resolve, reject } = Promise.withResolvers<PunchResult>()
  promise.catch(() => {})
  abandon = () => { if (winner == null) reject(new HolePunchError('the punch was closed before a probe got through', sent)) }
  const send = (s: Socket, msg: Buffer): void => {
    if (closed && s !== winner) return
    sent++
    try { s.send(msg, init.peer.port, init.peer.ip) } catch { /* closed meanwhile */ }
  }
  for (const s of sockets) {
    const onMessage = (msg: Buffer, rinfo: { address: string, port: number }): void => {
      if (winner != null || closed) return
      if (rinfo.address !== init.peer.ip || rinfo.port !== init.peer.port) return
      if (decodePunchPacket(msg, init.token) == null) return
      winner = s
      for (let i = 0; i < PUNCH_ACKS; i++) timers.push(setTimeout(() => { send(s, ack) }, i * PUNCH_ACK_SPACING))
      const result: PunchResult = { socket: s, localPort: s.address().port, remote: { ...init.peer }, ms: Math.round(performance.now() - start), packetsSent: sent }
      // let the acks go before the other sockets close (their timers are kept)
      timers.push(setTimeout(() => { closeOthers() }, PUNCH_ACKS * PUNCH_ACK_SPACING))
      unlisten(s)
      resolve(result)
    }
    handlers.set(s, onMessage)
    s.on('message', onMessage)
  }
  const closeOthers = (): void => {
    for (const s of sockets) {
      if (s === winner) continue
      unlisten(s)
      closeQuietly(s)
    }
  }
  const burst = (): void => { for (const s of sockets) if (winner == null && !closed) send(s, probe) }
  burst()
  const resend = (): void => {
    if (winner != null || closed) return
    burst()
    timers.push(setTimeout(resend, init.resendInterval ?? HARD_RESEND_INTERVAL))
  }
  timers.push(setTimeout(resend, init.resendInterval ?? HARD_RESEND_INTERVAL))

  if (init.stun != null) {
    try { after = await ask() } catch { /* aborted: result says so */ }
    sent += stunFlows
  }

  const timeout = init.timeout ?? PUNCH_TIMEOUT
  timers.push(setTimeout(() => {
    if (winner != null) return
    reject(new HolePunchError(`no probe of the peer got through within ${timeout} ms (${count} sockets)`, sent))
    close()
  }, Math.max(0, timeout - (performance.now() - start))))
  if (init.signal != null) {
    setMaxListeners(Infinity, init.signal)
    init.signal.addEventListener('abort', () => {
      if (winner != null) return
      reject(init.signal?.reason instanceof Error ? init.signal.reason : new DOMException('aborted', 'AbortError'))
      close()
    }, { once: true })
  }

  const out: HardPunch = { result: promise, close }
  const publicIp = before?.ip ?? after?.ip
  if (publicIp != null) out.publicIp = publicIp
  if (sequential && before != null && after != null && before.ip === after.ip) {
    out.hint = { before: before.port, after: after.port }
  }
  return out
}
