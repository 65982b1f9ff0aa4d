import type { Connection } from '@libp2p/interface'

/**
 * What a limited connection may carry (a circuit relay's limits, from the
 * reservation's Limit message), as numbers. A relay that applies limits is
 * used for signalling only: tunnel bytes never flow over it.
 */
export interface RelayLimitsInfo {
  /** Bytes the connection may still carry (both directions together), when the relay limits data. */
  bytes?: number
  /**
   * Seconds the connection may still stay open, when the relay limits time,
   * as the relay stated it. (js-libp2p 3.x relay servers, beam's too, state
   * their limit in ms where the protocol says seconds: their 2 min reads
   * 120000 here; go-libp2p's reads 120.)
   */
  seconds?: number
}

/**
 * Whether a connection has limits (a relay's data or time limit): such a
 * connection carries pings, identify, the tunnel probe and WebRTC
 * signalling, never a tunnel. A beam relay without --max-bytes or
 * --max-duration sets none.
 */
export function isLimited (conn: Pick<Connection, 'limits'>): boolean {
  return conn.limits != null
}

/** A data limit this large (4 PiB) stands for none: beam's relay sends 2^53 - 1. */
const UNREACHED_BYTES = 2n ** 52n
/**
 * A time limit this long (34 years) stands for none: beam's relay sends
 * 2^31 - 1, the longest timer, which js-libp2p states in the field meant for
 * seconds (see {@link RelayLimitsInfo.seconds}).
 */
const UNREACHED_SECONDS = 2 ** 30

/** A connection's limits as numbers (a limit nobody reaches left out), or undefined when it has none. */
export function limitsOf (conn: Pick<Connection, 'limits'>): RelayLimitsInfo | undefined {
  const l = conn.limits
  if (l == null) return undefined
  const info: RelayLimitsInfo = {}
  // circuit-relay-v2 applies a data and a time limit together or neither: a
  // relay that means only one (a beam relay with --max-bytes or
  // --max-duration alone) sets the other to a value nobody reaches
  // (the connection reports what is left, so the stand-in has gone down a little)
  if (l.bytes != null && l.bytes < UNREACHED_BYTES) info.bytes = Number(l.bytes)
  if (l.seconds != null && l.seconds < UNREACHED_SECONDS) info.seconds = l.seconds
  return info
}

/** A relay's limits in words: `128 KiB, 2 min`. */
export function describeLimits (limits: RelayLimitsInfo): string {
  const parts: string[] = []
  if (limits.bytes != null) parts.push(formatBytes(limits.bytes))
  if (limits.seconds != null) parts.push(formatSeconds(limits.seconds))
  return parts.length > 0 ? parts.join(', ') : 'limits not stated'
}

/**
 * Rounded up: a connection reports what it has left, and a few KiB of
 * identify and pings have crossed it before anyone asks, so a relay's
 * 128 KiB reads 127.4: it is shown as the limit it was.
 */
function formatBytes (n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size) {
      const v = n / size
      return `${v >= 10 ? Math.ceil(v) : Math.ceil(v * 10) / 10} ${unit}`
    }
  }
  return `${n} bytes`
}

function formatSeconds (s: number): string {
  if (s >= 3600) return `${Math.round(s / 360) / 10} h`
  if (s >= 60) return `${Math.round(s / 6) / 10} min`
  return `${s} s`
}
