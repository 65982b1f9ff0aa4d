import { pino } from 'pino'
import type { DestinationStream, StreamEntry } from 'pino'
import pretty from 'pino-pretty'
import type { Logger } from '../peer/index.ts'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface CliLoggerOptions {
  level: LogLevel
  /** 'pretty' for people (default on a TTY), 'json' for machines. */
  format: 'pretty' | 'json'
  /**
   * Where else each JSON log line goes (the process's log ring, a log
   * file), besides stderr. @default none
   */
  copies?: Array<{ write: (line: string) => void }>
}

/**
 * The CLI's pino logger: always on stderr (stdout is for --json events),
 * written synchronously so the last lines survive process.exit. Secrets are
 * redacted by key wherever they appear, in every copy.
 */
export function createCliLogger (options: CliLoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    redact: { paths: ['secret', '*.secret', 'privateKey', '*.privateKey', 'connect', '*.connect'], censor: '[redacted]' }
  }
  const main: DestinationStream = options.format === 'json'
    ? pino.destination({ fd: 2, sync: true })
    : pretty({
      destination: 2,
      sync: true,
      colorize: pretty.isColorSupported && process.stderr.isTTY,
      translateTime: 'HH:MM:ss',
      ignore: 'component',
      messageFormat: '{if component}[{component}] {end}{msg}'
    })
  const copies = options.copies ?? []
  if (copies.length === 0 || options.level === 'silent') return pino(base, main)
  const level = options.level
  const streams: StreamEntry[] = [{ level, stream: main }, ...copies.map(c => ({ level, stream: { write: (s: string) => { c.write(s) } } }))]
  return pino(base, pino.multistream(streams))
}
