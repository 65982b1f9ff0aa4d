import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:dgram'
import { lpStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'
import { MAX_HANDSHAKE_MESSAGE, PUNCH_TOKEN_BYTES, PunchNat, PunchStatus, decodePunchMessage, encodePunchMessage, isPunchTarget, punchRoles } from '../../signaling/index.ts'
import type { PunchAnswer, PunchDone, PunchGo, PunchMessage, PunchOffer } from '../../signaling/index.ts'
import { easyPunch } from './easy.ts'
import { HolePunchError } from './errors.ts'
import { startHardPunch } from './hard.ts'
import type { PunchResult } from './hard.ts'
import { bindUdp, closeQuietly, stunMapping } from './socket.ts'
import type { Endpoint } from './socket.ts'
import { PUNCH_TIMEOUT } from './constants.ts'

/** What both sides of a punch session need. */
export interface PunchSessionInit {
  /** This side's NAT, from its STUN answers (diagnostics' probeNat: endpoint-independent or none → EASY, symmetric → HARD). */
  nat: PunchNat
  /** The STUN server that tells the easy side its mapping and the hard side its address and sequence. */
  stun: Endpoint
  /** Where probes may go: the peer's address must pass it. @default isPunchTarget (public IPv4 only) */
  isTarget?: (ip: string) => boolean
  /** Engine knobs, for tests and measurements. @default the engine's */
  engine?: { sockets?: number, rate?: number, maxProbes?: number, timeout?: number }
  /** Ends the session. */
  signal?: AbortSignal
  /** Called with this side's working pair just before it tells the peer (e.g. to offer the port to the next WebRTC connection). @default unset */
  beforeDone?: (result: PunchResult) => void
}

/** The peer refused the punch or the method does not apply; `status` says why. */
export class PunchRefusedError extends Error {
  readonly status: PunchStatus
  constructor (status: PunchStatus, message: string) {
    super(message)
    this.name = 'PunchRefusedError'
    this.status = status
  }
}

type Lp = ReturnType<typeof lpStream>

async function read<T extends PunchMessage['type']> (lp: Lp, type: T, options: AbortOptions): Promise<Extract<PunchMessage, { type: T }>> {
  const m = decodePunchMessage((await lp.read(options)).subarray())
  if (m.type !== type) throw new HolePunchError(`expected a punch '${type}' message, got '${m.type}'`, 0)
  return m as Extract<PunchMessage, { type: T }>
}

async function mappingOf (sock: Socket, init: PunchSessionInit): Promise<Endpoint> {
  const m = await stunMapping(sock, init.stun, init.signal != null ? { signal: init.signal } : {})
  if (m == null) throw new HolePunchError('the STUN server did not answer: no mapping to offer', 0)
  return m
}

/**
 * Both sides, once the roles are known: the easy side waits for the hard
 * side's `go` and probes; the hard side opens its sockets and sends `go`.
 * Then both tell each other the outcome: the result stands only if both
 * sides hold a working pair.
 */
async function run (lp: Lp, easy: boolean, token: Uint8Array, socket: Socket | undefined, peerMapping: Endpoint | undefined, init: PunchSessionInit): Promise<PunchResult> {
  const isTarget = init.isTarget ?? isPunchTarget
  const options: AbortOptions = init.signal != null ? { signal: init.signal } : {}
  const timeout = init.engine?.timeout ?? PUNCH_TIMEOUT
  let result: PunchResult | undefined
  let error: Error | undefined
  if (easy) {
    if (socket == null) throw new HolePunchError('the easy side has no socket', 0)
    const go: PunchGo = await read(lp, 'go', options)
    if (!isTarget(go.ip)) throw new HolePunchError(`the peer's address ${go.ip} is not one probes may go to`, 0)
    try {
      result = await easyPunch({ socket, peerIp: go.ip, token, timeout, ...(go.hint != null ? { hint: go.hint } : {}), ...(init.engine?.rate != null ? { rate: init.engine.rate } : {}), ...(init.engine?.maxProbes != null ? { maxProbes: init.engine.maxProbes } : {}), ...options })
    } catch (err) { error = err as Error }
  } else {
    if (peerMapping == null || !isTarget(peerMapping.ip)) throw new HolePunchError(`the peer's mapping ${peerMapping?.ip ?? '(none)'} is not one probes may go to`, 0)
    const hard = await startHardPunch({ peer: peerMapping, token, stun: init.stun, timeout, ...(init.engine?.sockets != null ? { sockets: init.engine.sockets } : {}), ...options })
    if (hard.publicIp == null) { hard.close(); throw new HolePunchError('the STUN server did not answer: no address to give the peer', 0) }
    await lp.write(encodePunchMessage({ type: 'go', ip: hard.publicIp, ...(hard.hint != null ? { hint: hard.hint } : {}) }), options)
    try { result = await hard.result } catch (err) { error = err as Error } finally { hard.close() }
  }
  if (result != null) init.beforeDone?.(result)
  await lp.write(encodePunchMessage({ type: 'done', ok: result != null, port: result?.localPort ?? 0 }), options)
  const theirs: PunchDone = await read(lp, 'done', { signal: AbortSignal.any([...(init.signal != null ? [init.signal] : []), AbortSignal.timeout(timeout)]) })
  if (result != null && theirs.ok) return result
  if (result != null) closeQuietly(result.socket)
  throw error ?? new HolePunchError('the peer found no working pair', result?.packetsSent ?? 0)
}

/**
 * The connector's side of `/beam/punch/1.0.0` on a stream to the share
 * (typically over the relayed connection): offer, answer, punch, outcome.
 * Resolves with this side's working pair (its socket open, the caller's).
 */
export async function initiatePunch (stream: Stream, init: PunchSessionInit & { proof?: Uint8Array }): Promise<PunchResult> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  const options: AbortOptions = init.signal != null ? { signal: init.signal } : {}
  const token = randomBytes(PUNCH_TOKEN_BYTES)
  const socket = init.nat === PunchNat.EASY ? await bindUdp() : undefined
  try {
    const offer: PunchOffer = { type: 'offer', token, nat: init.nat, ...(init.proof != null ? { proof: init.proof } : {}) }
    if (socket != null) offer.mapping = await mappingOf(socket, init)
    await lp.write(encodePunchMessage(offer), options)
    const answer: PunchAnswer = await read(lp, 'answer', options)
    if (answer.status !== PunchStatus.ACCEPTED) throw new PunchRefusedError(answer.status, `the share refused the punch (status ${answer.status})`)
    const roles = punchRoles(init.nat, answer.nat)
    if (typeof roles === 'string') throw new PunchRefusedError(roles === 'not-needed' ? PunchStatus.NOT_NEEDED : PunchStatus.UNSUPPORTED, `hole punching is ${roles} between these NATs`)
    const result = await run(lp, roles.easy === 'connector', token, socket, answer.mapping, init)
    await lp.unwrap().close(options).catch(() => {})
    return result
  } catch (err) {
    if (socket != null) closeQuietly(socket)
    throw err
  }
}

/**
 * The share's side of `/beam/punch/1.0.0`: read the offer, ask `authorize`
 * (the access policy and the rate limits: a status to refuse with, or
 * undefined), answer, punch, outcome.
 */
export async function answerPunch (stream: Stream, init: PunchSessionInit & { authorize: (offer: PunchOffer) => PunchStatus | undefined }): Promise<PunchResult> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  const options: AbortOptions = init.signal != null ? { signal: init.signal } : {}
  const refuse = async (status: PunchStatus, why: string): Promise<never> => {
    await lp.write(encodePunchMessage({ type: 'answer', status, nat: init.nat }), options).catch(() => {})
    throw new PunchRefusedError(status, why)
  }
  let offer: PunchOffer
  try {
    offer = await read(lp, 'offer', options)
  } catch (err) {
    return await refuse(PunchStatus.BAD_REQUEST, (err as Error).message)
  }
  const denied = init.authorize(offer)
  if (denied != null) return await refuse(denied, 'refused by the share')
  const roles = punchRoles(offer.nat, init.nat)
  if (typeof roles === 'string') return await refuse(roles === 'not-needed' ? PunchStatus.NOT_NEEDED : PunchStatus.UNSUPPORTED, `hole punching is ${roles} between these NATs`)
  const easy = roles.easy === 'share'
  if (!easy && offer.mapping == null) return await refuse(PunchStatus.BAD_REQUEST, 'an easy connector must offer its mapping')
  const socket = easy ? await bindUdp() : undefined
  try {
    const mapping = socket != null ? await mappingOf(socket, init) : undefined
    await lp.write(encodePunchMessage({ type: 'answer', status: PunchStatus.ACCEPTED, nat: init.nat, ...(mapping != null ? { mapping } : {}) }), options)
    return await run(lp, easy, offer.token, socket, offer.mapping, init)
  } catch (err) {
    if (socket != null) closeQuietly(socket)
    throw err
  }
}
