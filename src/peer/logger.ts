import type { ComponentLogger, Logger as Libp2pLogger } from '@libp2p/interface'
import type { BackendLogger } from '../backends/index.ts'

/**
 * The logger beam's components use, one child per component: the part of
 * pino's Logger beam calls. A pino logger fits as it is (the CLI builds one,
 * src/cli/logging.ts); the library itself never loads pino.
 */
export interface Logger extends BackendLogger {
  /** A logger whose lines carry `bindings` too (e.g. `{ component: 'share' }`). */
  child: (bindings: Record<string, unknown>) => Logger
  /** Whether lines of `level` ('trace', 'debug', …) are written at all. */
  isLevelEnabled: (level: string) => boolean
}

const drop = (): void => {}

/** A logger that drops everything: the library's default (no pino behind it). */
export function silentLogger (): Logger {
  const log: Logger = {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    error: drop,
    child: () => log,
    isLevelEnabled: () => false
  }
  return log
}

/**
 * Render libp2p's debug-style format string (%p peer, %a address, %e error,
 * %s, %d, %o, %j, %b, %t, %c, %k) into plain text, as pino does not know them.
 */
export function formatLibp2p (formatter: unknown, args: unknown[]): string {
  if (typeof formatter !== 'string') {
    return [formatter, ...args].map(render).join(' ')
  }
  let i = 0
  const text = formatter.replace(/%([a-zA-Z%])/g, (match: string, f: string) => {
    if (f === '%') return '%'
    if (i >= args.length) return match
    const arg = args[i++]
    if (f === 'e') return arg instanceof Error ? (arg.message) : render(arg)
    return render(arg)
  })
  const rest = args.slice(i).map(render)
  return rest.length > 0 ? `${text} ${rest.join(' ')}` : text
}

function render (v: unknown): string {
  if (typeof v === 'string') return v
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
  if (v instanceof Error) return v.message
  if (v != null && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' &&
      (v as { toString: () => string }).toString !== Object.prototype.toString) {
    return (v as { toString: () => string }).toString()
  }
  try { return JSON.stringify(v) } catch { return String(v) }
}

/**
 * Adapt a pino logger to libp2p's ComponentLogger. libp2p's chatty internals
 * go to `trace`; its `error` calls (mostly routine failed dials) to `debug`.
 */
export function libp2pComponentLogger (base: Logger): ComponentLogger {
  const make = (name: string): Libp2pLogger => {
    const child = base.child({ component: `libp2p:${name}` })
    const traceOn = child.isLevelEnabled('trace')
    const debugOn = child.isLevelEnabled('debug')
    const log = ((formatter: unknown, ...args: unknown[]): void => {
      if (traceOn) child.trace(formatLibp2p(formatter, args))
    }) as Libp2pLogger
    log.error = (formatter: unknown, ...args: unknown[]): void => {
      if (debugOn) child.debug(formatLibp2p(formatter, args))
    }
    log.trace = (formatter: unknown, ...args: unknown[]): void => {
      if (traceOn) child.trace(formatLibp2p(formatter, args))
    }
    log.enabled = traceOn
    log.newScope = (scope: string) => make(`${name}:${scope}`)
    return log
  }
  return { forComponent: make }
}
