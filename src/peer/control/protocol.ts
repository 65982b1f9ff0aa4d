import type { LogEntry } from './log-ring.ts'
import type { ProcessStatus } from './status.ts'

/**
 * The control protocol: one JSON object per line over a unix socket (or a
 * loopback TCP connection, after a first line with the token). The
 * client sends one request; the server answers with one response line
 * (`ok: true` or `ok: false` with `error`) and closes, except for a logs
 * request with `follow`, whose response is followed by one `{"log": …}`
 * line per new log line until the client closes.
 */
export const CONTROL_PROTOCOL = 'beam-control/1'

/**
 * How a control endpoint is reached: `unix`, a unix socket; `tcp`, a port on
 * 127.0.0.1 named in a token file, whose token the client sends as its
 * first line, before the request.
 */
export type ControlTransport = 'unix' | 'tcp'

/** Longest line either side reads, in characters: a longer one is a protocol error. */
export const MAX_CONTROL_LINE = 4 * 1024 * 1024

/** Ask for the process's {@link ProcessStatus}. */
export interface StatusOp {
  /** The request. */
  op: 'status'
}
/** Ask for the kept log lines, and with `follow` every new one. */
export interface LogsOp {
  /** The request. */
  op: 'logs'
  /** Only lines kept at or after this time (ms since the epoch). @default every kept line */
  since?: number
  /** Keep the connection open and send each new line. @default false */
  follow?: boolean
}
/** Ask the process to stop (as SIGTERM would). */
export interface StopOp {
  /** The request. */
  op: 'stop'
}
/** Ask a share for its connect string (it carries the access secret: only for the socket's owner, e.g. a dashboard). */
export interface ConnectOp {
  /** The request. */
  op: 'connect'
}
/** What a client may ask (without the protocol field). */
export type ControlOp = StatusOp | LogsOp | StopOp | ConnectOp

/** Fields of every request and answer line. */
export interface ControlEnvelope {
  /** {@link CONTROL_PROTOCOL}. */
  protocol: string
}

/** A request line. */
export type ControlRequest = ControlOp & ControlEnvelope

/** A successful answer to a status request. */
export interface StatusAnswer extends ControlEnvelope {
  /** True. */
  ok: true
  /** The process's status. */
  status: ProcessStatus
}
/** A successful answer to a logs request. */
export interface LogsAnswer extends ControlEnvelope {
  /** True. */
  ok: true
  /** The kept lines asked for, oldest first. */
  logs: LogEntry[]
  /** Whether {@link ControlLogLine} lines follow. */
  following: boolean
}
/** A successful answer to a stop request. */
export interface StopAnswer extends ControlEnvelope {
  /** True. */
  ok: true
  /** True: the process is stopping. */
  stopping: true
}
/** A successful answer to a connect request. */
export interface ConnectAnswer extends ControlEnvelope {
  /** True. */
  ok: true
  /** The share's connect string now, or null (not a share). */
  connect: string | null
}
/** A refused request. */
export interface ErrorAnswer extends ControlEnvelope {
  /** False. */
  ok: false
  /** Why, in one line. */
  error: string
}
/** The first line of every answer. */
export type ControlResponse = StatusAnswer | LogsAnswer | StopAnswer | ConnectAnswer | ErrorAnswer

/** The lines after a following logs answer. */
export interface ControlLogLine {
  /** A new log line. */
  log: LogEntry
}

/**
 * Splits a byte stream into lines, refusing a line longer than
 * {@link MAX_CONTROL_LINE}: `push` returns the complete lines, or throws.
 */
export class LineSplitter {
  private buf = ''
  private readonly max: number

  /** `max`: the longest line, in characters. @default {@link MAX_CONTROL_LINE} */
  constructor (max = MAX_CONTROL_LINE) {
    this.max = max
  }

  /** Add received text; returns the lines it completed (without their newlines). Throws RangeError past the longest line. */
  push (chunk: string): string[] {
    this.buf += chunk
    const out: string[] = []
    let i
    while ((i = this.buf.indexOf('\n')) >= 0) {
      out.push(this.buf.slice(0, i))
      this.buf = this.buf.slice(i + 1)
    }
    if (this.buf.length > this.max) throw new RangeError(`a control line longer than ${this.max} characters`)
    return out
  }
}
