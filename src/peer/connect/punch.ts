import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { PUNCH_PROTOCOL, PunchNat, PunchStatus, accessProof } from '../../signaling/index.ts'
import { PunchRefusedError, closeQuietly, initiatePunch } from '../punch/index.ts'
import type { PunchContext } from '../punch/index.ts'
import type { Logger } from '../logger.ts'

/** What a punch before a WebRTC upgrade came to. */
export interface PunchOutcome {
  /** Both sides hold a working UDP pair; each side's next WebRTC connection binds its punched port. */
  ok: boolean
  /** Why not (absent when the method does not apply: no STUN pair, a share without the protocol, two easy or two hard sides). */
  error?: string
  ms: number
}

/** Options and components of {@link punchBeforeUpgrade}. */
export interface ConnectorPunchInit {
  libp2p: Libp2p
  peerId: PeerId
  secret?: Uint8Array | undefined
  context: PunchContext
  log: Logger
}

/**
 * The connector's side of a hole punch across one hard NAT, run over the
 * relayed connection just before a WebRTC upgrade: when this node is behind
 * an endpoint-independent (or no) NAT or a symmetric one, ask the share for
 * a punch; on success the punched port is offered to this node's next
 * WebRTC connection (the upgrade's dial). Whatever happens, the upgrade's
 * own WebRTC attempt follows.
 */
export async function punchBeforeUpgrade (init: ConnectorPunchInit, relayed: Connection, signal: AbortSignal): Promise<PunchOutcome> {
  const start = performance.now()
  const ms = (): number => Math.round(performance.now() - start)
  const own = await init.context.ownNat(signal)
  if (own == null || own.nat === PunchNat.UNKNOWN) return { ok: false, ms: ms() }
  let stream
  try {
    stream = await relayed.newStream(PUNCH_PROTOCOL, { signal, runOnLimitedConnection: true })
  } catch {
    return { ok: false, ms: ms() }
  }
  const proof = init.secret != null ? accessProof(init.secret, init.libp2p.peerId.toMultihash().bytes, init.peerId.toMultihash().bytes) : undefined
  try {
    const r = await initiatePunch(stream, { nat: own.nat, stun: own.stun, signal, ...(proof != null ? { proof } : {}) })
    init.context.ports.offer(r.localPort)
    closeQuietly(r.socket)
    init.log.info({ ms: r.ms, remote: `${r.remote.ip}:${r.remote.port}` }, 'hole punch: a working UDP pair with the share; WebRTC follows on the punched port')
    return { ok: true, ms: ms() }
  } catch (err) {
    const e = err as Error
    // a refusal because the method does not apply is not a failure worth reporting
    if (e instanceof PunchRefusedError && (e.status === PunchStatus.NOT_NEEDED || e.status === PunchStatus.UNSUPPORTED)) return { ok: false, ms: ms() }
    stream.abort(e)
    return { ok: false, error: `${e.name}: ${e.message}`, ms: ms() }
  }
}
