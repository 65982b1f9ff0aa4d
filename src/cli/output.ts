/**
 * What a command shows: with --json, one JSON object per line on stdout and
 * nothing else there; without it, human lines on stderr.
 */
export interface Output {
  readonly json: boolean
  /** Emit a machine event (stdout, --json only). */
  event: (name: string, fields?: Record<string, unknown>) => void
  /**
   * Emit a machine event of a busy kind (one per visitor request): the lines
   * of one event-loop turn leave in one write at the end of the turn, not one
   * write each. Order is kept: {@link event} and process exit write pending
   * lines first.
   */
  frequentEvent: (name: string, fields?: object) => void
  /** Show a human line (stderr, not with --json). */
  say: (line: string) => void
}

export interface OutputStreams {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
}

export function createOutput (json: boolean, io: OutputStreams): Output {
  let pending = ''
  let scheduled = false
  let exitHook = false
  const flush = (): void => {
    scheduled = false
    if (pending === '') return
    const text = pending
    pending = ''
    io.stdout.write(text)
  }
  return {
    json,
    event: (name, fields = {}) => {
      if (!json) return
      flush()
      io.stdout.write(JSON.stringify({ event: name, ...fields }) + '\n')
    },
    frequentEvent: (name, fields = {}) => {
      if (!json) return
      pending += JSON.stringify({ event: name, ...fields }) + '\n'
      if (scheduled) return
      scheduled = true
      setImmediate(flush)
      if (!exitHook) { exitHook = true; process.once('exit', flush) }
    },
    say: (line) => {
      if (!json) io.stderr.write(line + '\n')
    }
  }
}
