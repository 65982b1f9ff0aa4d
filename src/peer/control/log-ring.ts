/** One kept log line: when it was written (ms since the epoch) and its text (one pino JSON object, no newline). */
export interface LogEntry {
  /** When the line was kept, in ms since the epoch. */
  time: number
  /** The line, without its newline. */
  line: string
}

/** Options of a {@link LogRing}. */
export interface LogRingInit {
  /** Lines kept at most; the oldest go first. @default 2000 */
  maxLines?: number
  /** Characters kept at most over all lines; the oldest go first. @default 1 MiB */
  maxChars?: number
  /** A longer line is cut to this many characters. @default 16 KiB */
  maxLineChars?: number
  /** The clock. @default Date.now */
  now?: () => number
}

/** {@link LogRingInit.maxLines}. */
export const DEFAULT_LOG_RING_LINES = 2000
/** {@link LogRingInit.maxChars}. */
export const DEFAULT_LOG_RING_CHARS = 1024 * 1024
/** {@link LogRingInit.maxLineChars}. */
export const DEFAULT_LOG_LINE_CHARS = 16 * 1024

/**
 * A process's recent log lines, bounded in count and size: what `beam logs`
 * reads through the control socket. Followers are told of each new line.
 */
export class LogRing {
  private readonly entries: LogEntry[] = []
  private head = 0
  private chars = 0
  private readonly maxLines: number
  private readonly maxChars: number
  private readonly maxLineChars: number
  private readonly now: () => number
  private readonly followers = new Set<(entry: LogEntry) => void>()

  constructor (init: LogRingInit = {}) {
    this.maxLines = Math.max(1, init.maxLines ?? DEFAULT_LOG_RING_LINES)
    this.maxChars = Math.max(1, init.maxChars ?? DEFAULT_LOG_RING_CHARS)
    this.maxLineChars = Math.max(1, init.maxLineChars ?? DEFAULT_LOG_LINE_CHARS)
    this.now = init.now ?? Date.now
  }

  /** Lines kept now. */
  get size (): number { return this.entries.length - this.head }

  /** Keep a line (a trailing newline is dropped; an over-long line is cut). */
  push (text: string): void {
    let line = text.endsWith('\n') ? text.slice(0, -1) : text
    if (line.length > this.maxLineChars) line = line.slice(0, this.maxLineChars)
    const entry = { time: this.now(), line }
    this.entries.push(entry)
    this.chars += line.length
    while (this.size > this.maxLines || (this.chars > this.maxChars && this.size > 1)) {
      const old = this.entries[this.head++]
      this.chars -= old?.line.length ?? 0
    }
    // drop the consumed prefix now and then rather than shift() per line
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head)
      this.head = 0
    }
    for (const f of this.followers) f(entry)
  }

  /** The kept lines, oldest first; with `since`, only those kept at or after it (ms since the epoch). */
  lines (since?: number): LogEntry[] {
    const all = this.entries.slice(this.head)
    return since == null ? all : all.filter(e => e.time >= since)
  }

  /** Be told of every new line until the returned function is called. */
  follow (onLine: (entry: LogEntry) => void): () => void {
    this.followers.add(onLine)
    return () => { this.followers.delete(onLine) }
  }
}
