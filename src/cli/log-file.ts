import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'

/** Options of a {@link RotatingLogFile}. */
export interface RotatingLogFileInit {
  /** The file; rotated copies are `FILE.1` (newest) to `FILE.<keep>`. */
  path: string
  /** Rotate before a write would make the file larger than this. @default 10 MiB */
  maxBytes?: number
  /** Rotated copies kept. @default 3 */
  keep?: number
}

/** {@link RotatingLogFileInit.maxBytes}. */
export const DEFAULT_LOG_FILE_BYTES = 10 * 1024 * 1024
/** {@link RotatingLogFileInit.keep}. */
export const DEFAULT_LOG_FILE_KEEP = 3

/**
 * A log file that never grows past a size: before a line would take it over
 * `maxBytes`, FILE becomes FILE.1, FILE.1 becomes FILE.2, …, the oldest
 * copy past `keep` is deleted, and a new FILE starts. Writes are synchronous
 * (the last lines survive an exit), files are created with mode 0600.
 */
export class RotatingLogFile {
  readonly path: string
  private readonly maxBytes: number
  private readonly keep: number
  private fd: number
  private size: number
  private failed = false

  constructor (init: RotatingLogFileInit) {
    this.path = init.path
    this.maxBytes = Math.max(1, init.maxBytes ?? DEFAULT_LOG_FILE_BYTES)
    this.keep = Math.max(0, init.keep ?? DEFAULT_LOG_FILE_KEEP)
    this.fd = openSync(this.path, 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  /** Append a line (with its newline); a write error stops the file for good rather than the process. */
  write (line: string): void {
    if (this.failed) return
    try {
      const bytes = Buffer.byteLength(line)
      if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate()
      writeSync(this.fd, line)
      this.size += bytes
    } catch {
      this.failed = true
    }
  }

  close (): void {
    if (this.failed) return
    try { closeSync(this.fd) } catch {}
    this.failed = true
  }

  private rotate (): void {
    closeSync(this.fd)
    if (this.keep === 0) {
      rmSync(this.path, { force: true })
    } else {
      rmSync(`${this.path}.${this.keep}`, { force: true })
      for (let i = this.keep - 1; i >= 1; i--) {
        try { renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`) } catch {}
      }
      renameSync(this.path, `${this.path}.1`)
    }
    this.fd = openSync(this.path, 'a', 0o600)
    this.size = 0
  }
}
