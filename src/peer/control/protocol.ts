import type { LogEntry } from './log-ring.ts'
import type { ProcessStatus } from './status.ts'

/**
 * The control protocol: one JSON object per line over a unix socket. The
 * client sends one request; the server answers with one response line
 * (`ok: true` or `ok: false` with `error`) and closes, except for a logs
 * request with `follow`, whose response is followed by one `{"log": …}`
 * line per new log line until the client closes.
 */
export const CONTROL_PROTOCOL = 'beam-control/1'

/** Longest line either side reads, in characters: a longer one is a protocol error. */
export const MAX_CONTROL_LINE = 4 * 1024 * 1024

/** What a client may ask (without the protocol field). */
export type ControlOp =
  | { op: 'status' }
  | { op: 'logs', since?: number, follow?: boolean }
  | { op: 'stop' }

/** A request line. */
export type ControlRequest = ControlOp & { protocol: string }

/** The first line of every answer. */
export type ControlResponse =
  | { protocol: string, ok: true, status: ProcessStatus }
  | { protocol: string, ok: true, logs: LogEntry[], following: boolean }
  | { protocol: string, ok: true, stopping: true }
  | { protocol: string, ok: false, error: string }

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

  constructor (max = MAX_CONTROL_LINE) {
    this.max = max
  }

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
