import type { Duplex } from 'node:stream'
import type { VisitorBatch } from '../peer/index.ts'

/**
 * `/beam/gateway/register/1.0.0`: a share tells a gateway it opts in. The
 * share opens the stream and sends one JSON line ({@link RegisterRequest});
 * the gateway answers one line ({@link RegisterResponse}) and keeps the
 * stream open: the share counts as online exactly while the stream is open.
 * The sender is the peer the connection's Noise handshake proved, so a
 * registration cannot be made in another share's name; a short name claim
 * carries a signature besides, which the gateway keeps with the claim.
 */
export const REGISTER_PROTOCOL = '/beam/gateway/register/1.0.0'

/** Longest line either side sends, in bytes. */
export const MAX_REGISTER_LINE = 4096

/** What the signature of a name claim covers: the prefix, the gateway's peer id, the name, the time (ms). */
export function claimBytes (gateway: string, name: string, at: number): Uint8Array {
  return new TextEncoder().encode(`beam gateway name claim v1\n${gateway}\n${name}\n${at}`)
}

/** How far a claim's time may be from the gateway's clock, in ms. */
export const CLAIM_CLOCK_SKEW = 5 * 60_000

/** Visitor authentication the share asks the gateway to require (SHA-256 hex digests, never the secrets). */
export interface VisitorAuthDigest {
  /** sha256 of `user:password` (HTTP basic). */
  basic?: string
  /** sha256 of the bearer token. */
  token?: string
}

/** The share's line. */
export interface RegisterRequest {
  v: 1
  /** A short name to claim, with its signature. */
  name?: string
  /** Time of the claim, ms since the epoch. */
  at?: number
  /** base64 signature of {@link claimBytes}. */
  sig?: string
  /** Visitor authentication to require. */
  auth?: VisitorAuthDigest
  /**
   * Ask for visitor reports ({@link VisitorReport}) of this version on the
   * registration stream. A gateway that does not know the field sends none;
   * a share that does not ask gets none. @default unset (no reports)
   */
  visitors?: 1
}

/**
 * A line the gateway sends on the registration stream after its answer, at
 * most once per {@link VISITOR_REPORT_INTERVAL} and only when there were
 * requests: the share's visitor requests since the last line. A share skips
 * lines whose `t` or `v` it does not know.
 */
export interface VisitorReport extends VisitorBatch {
  t: 'visitors'
  v: 1
}

/** How often a gateway sends a share its {@link VisitorReport}, in ms. */
export const VISITOR_REPORT_INTERVAL = 1000

/** Upper bounds (ms) of the latency buckets of a {@link VisitorReport}. */
export const VISITOR_LATENCY_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000]

/** The gateway's line. */
export type RegisterResponse =
  | { ok: true, url: string, label: string, name?: string, nameUrl?: string, nameIdleDays?: number }
  | { ok: false, code: 'name-taken' | 'bad-name' | 'not-allowed' | 'bad-request', message: string }

/** Read one line of at most {@link MAX_REGISTER_LINE} bytes and parse it as JSON. */
export async function readJsonLine (duplex: Duplex, signal: AbortSignal): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const done = (err: Error | undefined, value?: unknown): void => {
      duplex.off('data', onData)
      duplex.off('end', onEnd)
      duplex.off('error', onEnd)
      duplex.off('close', onEnd)
      signal.removeEventListener('abort', onAbort)
      if (err != null) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk])
      const nl = buf.indexOf(10)
      if (nl < 0) {
        if (buf.length > MAX_REGISTER_LINE) done(new Error('registration line too long'))
        return
      }
      const rest = buf.subarray(nl + 1)
      duplex.pause()
      if (rest.length > 0) duplex.unshift(rest)
      try {
        done(undefined, JSON.parse(buf.subarray(0, nl).toString('utf8')))
      } catch {
        done(new Error('registration line is not JSON'))
      }
    }
    const onEnd = (err?: Error): void => { done(err instanceof Error ? err : new Error('stream ended before the registration line')) }
    const onAbort = (): void => { done(new Error('no registration line in time')) }
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort)
    duplex.on('data', onData)
    duplex.on('end', onEnd)
    duplex.on('error', onEnd)
    duplex.on('close', onEnd)
  })
}

/** Write one JSON line. */
export function writeJsonLine (duplex: Duplex, value: unknown): void {
  duplex.write(JSON.stringify(value) + '\n')
}
