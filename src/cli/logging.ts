import { pino } from 'pino'
import pretty from 'pino-pretty'
import type { Logger } from '../peer/index.ts'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface CliLoggerOptions {
  level: LogLevel
  /** 'pretty' for people (default on a TTY), 'json' for machines. */
  format: 'pretty' | 'json'
}

/**
 * The CLI's pino logger: always on stderr (stdout is for --json events),
 * written synchronously so the last lines survive process.exit. Secrets are
 * redacted by key wherever they appear.
 */
export function createCliLogger (options: CliLoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    redact: { paths: ['secret', '*.secret', 'privateKey', '*.privateKey', 'connect', '*.connect'], censor: '[redacted]' }
  }
  if (options.format === 'json') {
    return pino(base, pino.destination({ fd: 2, sync: true }))
  }
  const stream = pretty({
    destination: 2,
    sync: true,
    colorize: pretty.isColorSupported && process.stderr.isTTY,
    translateTime: 'HH:MM:ss',
    ignore: 'component',
    messageFormat: '{if component}[{component}] {end}{msg}'
  })
  return pino(base, stream)
}
