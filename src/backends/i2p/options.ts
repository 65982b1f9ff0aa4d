import type { BackendLogger as ProgressLogger } from '../backend.ts'
import type { SamAddress } from './sam-socket.ts'
import type { TunnelOptions } from './sam-session.ts'
import { DEFAULT_COMMAND_TIMEOUT, DEFAULT_READY_TIMEOUT } from './sam-session.ts'
import { DEFAULT_CLOSE_TIMEOUT } from './sam-conn.ts'
import { I2pAddressError } from './errors.ts'

/** Options of the I2P backend and its transport. */
export interface I2pBackendOptions {
  /**
   * The router's SAM v3 bridge, `host:port`.
   * @default '127.0.0.1:7656'
   */
  sam?: string
  /**
   * File holding the share's private destination key (I2P base64, mode 0600),
   * created on first use. Without it every share gets a new transient
   * destination, so its address changes each time.
   * @default undefined (transient destination)
   */
  keyFile?: string
  /**
   * Tunnel lengths and counts of both the share's and the connector's session.
   * Shorter tunnels are faster and less anonymous; 0 hops hides nothing.
   * @default { inboundLength: 3, outboundLength: 3, inboundQuantity: 2, outboundQuantity: 2 }
   */
  tunnels?: TunnelOptions
  /**
   * How long a new SAM session may take to become ready (its tunnels built, its
   * lease set published), in milliseconds. Routers usually need 5–30 s.
   * @default 120000
   */
  sessionReadyTimeoutMs?: number
  /**
   * Bound for one SAM command, naming lookup or STREAM CONNECT, in milliseconds.
   * @default 30000
   */
  commandTimeoutMs?: number
  /**
   * How long a dial keeps retrying while the router cannot find the
   * destination's lease set (`CANT_REACH_PEER`), e.g. because the share came
   * up seconds ago, in milliseconds. The dial's own timeout still applies.
   * @default 60000
   */
  reachRetryMs?: number
  /**
   * How long closing a connection waits for the far side to confirm it read
   * everything (beam's end-of-data handshake), in milliseconds.
   * @default 30000
   */
  closeTimeoutMs?: number
  /**
   * User-facing progress: making a SAM session, waiting for a share's lease
   * set to be published. beam hands the node's logger in.
   * @default silent
   */
  log?: ProgressLogger
}

export interface ResolvedI2pOptions {
  sam: SamAddress
  keyFile?: string
  tunnels: Required<TunnelOptions>
  sessionReadyTimeoutMs: number
  commandTimeoutMs: number
  reachRetryMs: number
  closeTimeoutMs: number
  log?: ProgressLogger
}

/** Where an I2P router's SAM v3 bridge usually listens (i2pd and Java I2P). */
export const DEFAULT_SAM = '127.0.0.1:7656'
export const DEFAULT_REACH_RETRY = 60_000

export function parseSamAddress (s: string): SamAddress {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s.trim())
  const port = Number(m?.[2])
  if (m?.[1] == null || !Number.isInteger(port) || port < 1 || port > 65535) throw new I2pAddressError(`SAM address must be host:port, got '${s}'`)
  return { host: m[1], port }
}

export function resolveOptions (o: I2pBackendOptions = {}): ResolvedI2pOptions {
  const t = o.tunnels ?? {}
  const r: ResolvedI2pOptions = {
    sam: parseSamAddress(o.sam ?? DEFAULT_SAM),
    tunnels: {
      inboundLength: t.inboundLength ?? 3,
      outboundLength: t.outboundLength ?? 3,
      inboundQuantity: t.inboundQuantity ?? 2,
      outboundQuantity: t.outboundQuantity ?? 2
    },
    sessionReadyTimeoutMs: o.sessionReadyTimeoutMs ?? DEFAULT_READY_TIMEOUT,
    commandTimeoutMs: o.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT,
    reachRetryMs: o.reachRetryMs ?? DEFAULT_REACH_RETRY,
    closeTimeoutMs: o.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT
  }
  for (const [k, v] of Object.entries(r.tunnels)) {
    if (!Number.isInteger(v) || v < 0 || v > 7) throw new I2pAddressError(`tunnels.${k} must be an integer 0–7, got ${String(v)}`)
  }
  if (o.keyFile != null) r.keyFile = o.keyFile
  if (o.log != null) r.log = o.log
  return r
}
