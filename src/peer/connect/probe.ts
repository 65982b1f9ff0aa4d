import { setTimeout as delay } from 'node:timers/promises'
import type { PeerId, Stream } from '@libp2p/interface'
import { PeerUnreachableError, ServiceUnavailableError, ShareOverloadedError, TunnelProtocolError, TunnelRefusedError, UnknownPortError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/** Handshakes tried before `beam connect` gives up on a connection that keeps failing under it. */
export const PROBE_ATTEMPTS = 3
/** Wait before the next handshake: this many ms times the attempts so far. */
const PROBE_BACKOFF = 500

/** Options and components of {@link probeShare}. */
export interface ProbeInit {
  /** Opens one tunnel stream in probe mode and runs the handshake (TunnelStreams.open). */
  open: (signal?: AbortSignal) => Promise<Stream>
  /** The share's peer id (for the error and the log). */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** Set when the owner closed: no further attempt. */
  shutdown: AbortSignal
  /** Aborts the probe (the caller's). @default unset */
  signal?: AbortSignal | undefined
  /** Handshakes in all. @default 3 */
  attempts?: number
}

/** A probe failure that another attempt cannot change: the share's answer, or a dial that already failed. */
export function isFinalProbeError (err: unknown): boolean {
  return err instanceof TunnelRefusedError || err instanceof UnknownPortError || err instanceof ServiceUnavailableError || err instanceof ShareOverloadedError ||
    err instanceof TunnelProtocolError || err instanceof PeerUnreachableError ||
    (err instanceof Error && ['HandshakeError', 'UnsupportedVersionError', 'UnsupportedProtocolError'].includes(err.name))
}

/**
 * The first handshake, which makes a refusal a start-up error instead of a
 * mystery on the first local connection. The share's answers (refused,
 * unknown port, an incompatible beam) and a failed dial end it; a connection
 * that dies under the handshake (a relay that goes away, a ping timeout on a
 * loaded host) is dialled again, `attempts` times in all, and then reported
 * as an unreachable peer rather than an internal error.
 */
export async function probeShare (init: ProbeInit): Promise<void> {
  const { open, peerId, log, shutdown, signal } = init
  const attempts = init.attempts ?? PROBE_ATTEMPTS
  for (let attempt = 1; ; attempt++) {
    try {
      const raw = await open(signal)
      await raw.close({ signal: AbortSignal.timeout(2000) }).catch(() => { raw.abort(new Error('probe close timed out')) })
      return
    } catch (err) {
      if (signal?.aborted === true || shutdown.aborted || isFinalProbeError(err)) throw err
      const message = (err as Error).message
      if (attempt >= attempts) throw new PeerUnreachableError(peerId.toString(), `the connection failed during the handshake ${attempt} times (last: ${message})`, err)
      log.info({ peer: peerId.toString(), attempt, err: message }, 'the connection failed during the handshake; dialling again')
      // cut short by an abort: the next attempt then fails at once, as the caller's abort
      await delay(PROBE_BACKOFF * attempt, undefined, { signal: signal != null ? AbortSignal.any([signal, shutdown]) : shutdown }).catch(() => {})
    }
  }
}
