/**
 * What a command shows: with --json, one JSON object per line on stdout and
 * nothing else there; without it, human lines on stderr.
 */
export interface Output {
  readonly json: boolean
  /** Emit a machine event (stdout, --json only). */
  event: (name: string, fields?: Record<string, unknown>) => void
  /** Show a human line (stderr, not with --json). */
  say: (line: string) => void
}

export interface OutputStreams {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
}

export function createOutput (json: boolean, io: OutputStreams): Output {
  return {
    json,
    event: (name, fields = {}) => {
      if (json) io.stdout.write(JSON.stringify({ event: name, ...fields }) + '\n')
    },
    say: (line) => {
      if (!json) io.stderr.write(line + '\n')
    }
  }
}
