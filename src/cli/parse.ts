import { InvalidPortError, UsageError } from './exit-codes.ts'

/** Parse a port number: digits only, 1-65535 (0 too when `allowZero`). */
export function parsePort (text: string, what = 'port', allowZero = false): number {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t)) throw new InvalidPortError(`invalid ${what} '${text}': expected a number from ${allowZero ? 0 : 1} to 65535`)
  const n = Number(t)
  if (n > 65535 || (n === 0 && !allowZero)) throw new InvalidPortError(`invalid ${what} '${text}': expected a number from ${allowZero ? 0 : 1} to 65535`)
  return n
}

/** A service to share: `PORT`, `HOST:PORT` or `[V6]:PORT`. */
export function parseService (text: string): { host?: string, port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(.+)$/.exec(text) ?? /^([^:]+):([^:]+)$/.exec(text)
  if (m != null) {
    const host = m[1] ?? ''
    if (host === '') throw new UsageError(`invalid service '${text}': empty host`)
    return { host, port: parsePort(m[2] ?? '', 'port') }
  }
  return { port: parsePort(text, 'port') }
}

/** Split a comma-separated list (env vars), dropping empty items. */
export function splitList (text: string | undefined): string[] {
  return (text ?? '').split(',').map(s => s.trim()).filter(s => s.length > 0)
}

/** commander collector for repeatable options. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** A duration in ms: digits, 1 ms to 24 h. */
export function parseMillis (text: string, what: string): number {
  const t = text.trim()
  const n = /^\d{1,9}$/.test(t) ? Number(t) : NaN
  if (!(n >= 1 && n <= 86_400_000)) throw new UsageError(`invalid ${what} '${text}': expected milliseconds from 1 to 86400000`)
  return n
}
