import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { InvalidPortError, UsageError } from './exit-codes.ts'

/** Parse a port number: digits only, 1-65535 (0 too when `allowZero`). */
export function parsePort (text: string, what = 'port', allowZero = false): number {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t)) throw new InvalidPortError(`invalid ${what} '${text}': expected a number from ${allowZero ? 0 : 1} to 65535`)
  const n = Number(t)
  if (n > 65535 || (n === 0 && !allowZero)) throw new InvalidPortError(`invalid ${what} '${text}': expected a number from ${allowZero ? 0 : 1} to 65535`)
  return n
}

/** A local unix socket named on the command line: `unix:PATH`, made absolute; undefined when `text` is no `unix:` address. */
export function parseUnixAddress (text: string, what: string): string | undefined {
  if (!text.startsWith('unix:')) return undefined
  const path = text.slice('unix:'.length)
  if (path === '' || path.includes('\0')) throw new UsageError(`invalid ${what} '${text}': expected unix:PATH`)
  return resolve(path)
}

/** A port with an optional protocol: `5353`, `5353/tcp`, `5353/udp`. */
export function parsePortProtocol (text: string, what = 'port'): { port: number, udp: boolean } {
  const m = /^(.*)\/(tcp|udp)$/i.exec(text.trim())
  if (m == null) return { port: parsePort(text, what), udp: false }
  return { port: parsePort(m[1] ?? '', what), udp: (m[2] ?? '').toLowerCase() === 'udp' }
}

/**
 * For a `HOST:PORT` written with an IPv6 address and no brackets (`::1:8080`,
 * which cannot be split: its colons are the address's), what to write
 * instead; undefined when the text is not such a form.
 */
export function ipv6BracketHint (text: string): string | undefined {
  const t = text.trim()
  if (t.startsWith('[') || (t.match(/:/g)?.length ?? 0) < 2) return undefined
  const i = t.lastIndexOf(':')
  const host = t.slice(0, i)
  const port = t.slice(i + 1)
  const example = isIP(host) === 6 && /^\d{1,5}$/.test(port) ? `[${host}]:${port}` : isIP(t) === 6 ? `[${t}]:PORT` : '[ADDRESS]:PORT'
  return `an IPv6 address goes in brackets, as in ${example}`
}

/**
 * A service to share: `PORT`, `HOST:PORT`, `[V6]:PORT` (each with an
 * optional `/udp` or `/tcp`) or `unix:PATH` (its port number, 0 here, is
 * given by {@link numberServices}).
 */
export function parseService (text: string): { host?: string, port: number, path?: string, udp?: true } {
  const path = parseUnixAddress(text, 'service')
  if (path != null) return { port: 0, path }
  const proto = /^(.*)\/(tcp|udp)$/i.exec(text)
  if (proto != null) {
    const inner = parseService(proto[1] ?? '')
    if (/\/(tcp|udp)$/i.test(proto[1] ?? '')) throw new UsageError(`invalid service '${text}'`)
    return (proto[2] ?? '').toLowerCase() === 'udp' ? { ...inner, udp: true } : inner
  }
  const hint = ipv6BracketHint(text)
  if (hint != null) throw new UsageError(`invalid service '${text}': ${hint}`)
  const m = /^\[([0-9a-fA-F:.]+)\]:(.+)$/.exec(text) ?? /^([^:]+):([^:]+)$/.exec(text)
  if (m != null) {
    const host = m[1] ?? ''
    if (host === '') throw new UsageError(`invalid service '${text}': empty host`)
    return { host, port: parsePort(m[2] ?? '', 'port') }
  }
  return { port: parsePort(text, 'port') }
}

/**
 * Give each unix socket service (port 0) the number connectors ask for it by:
 * the lowest from 1 up that no other service of the list uses, in order.
 */
export function numberServices<T extends { port: number, path?: string, udp?: true }> (services: T[]): T[] {
  const used = new Set(services.filter(s => s.path == null && s.udp !== true).map(s => s.port))
  let next = 1
  return services.map(s => {
    if (s.path == null || s.port !== 0) return s
    while (used.has(next)) next++
    used.add(next)
    return { ...s, port: next }
  })
}

/** Split a comma-separated list (env vars), dropping empty items. */
export function splitList (text: string | undefined): string[] {
  return (text ?? '').split(',').map(s => s.trim()).filter(s => s.length > 0)
}

/** commander collector for repeatable options. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** A whole count from `min` to `max` (limits such as --max-reservations). */
export function parseCount (text: string, what: string, min = 1, max = 10_000_000): number {
  const t = text.trim()
  const n = /^\d{1,9}$/.test(t) ? Number(t) : NaN
  if (!(n >= min && n <= max)) throw new UsageError(`invalid ${what} '${text}': expected a whole number from ${min} to ${max}`)
  return n
}

/** A duration in ms: digits, 1 ms to 24 h. */
export function parseMillis (text: string, what: string): number {
  const t = text.trim()
  const n = /^\d{1,9}$/.test(t) ? Number(t) : NaN
  if (!(n >= 1 && n <= 86_400_000)) throw new UsageError(`invalid ${what} '${text}': expected milliseconds from 1 to 86400000`)
  return n
}

// unit tables are Maps: the unit is what the user typed ('1constructor' is no unit)
const DURATION_UNITS = new Map<string, number>([['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]])

/** A duration: `0`, `1500ms`, `90s`, `30m`, `2h`, `1d` (a bare number is seconds). Returns ms. */
export function parseDuration (text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (m == null) throw new UsageError(`invalid ${what} '${text}': expected e.g. 0, 90s, 30m, 2h`)
  const ms = Math.round(Number(m[1]) * (DURATION_UNITS.get(m[2] ?? 's') ?? 1000))
  if (!Number.isSafeInteger(ms) || ms > 2_147_483_647) throw new UsageError(`invalid ${what} '${text}': too long`)
  return ms
}

const BYTE_UNITS = new Map<string, number>(Object.entries({ '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 }))

/** A size: `0`, `131072`, `128KiB`, `10MB`, `1GiB`. Returns bytes. */
export function parseBytes (text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim())
  const unit = BYTE_UNITS.get((m?.[2] ?? '').toLowerCase())
  if (m == null || unit == null) throw new UsageError(`invalid ${what} '${text}': expected e.g. 0, 128KiB, 10MB, 1GiB`)
  const n = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(n)) throw new UsageError(`invalid ${what} '${text}': too large`)
  return n
}

/** `HOST:PORT` for a server to bind (metrics); a bare port binds 127.0.0.1. */
export function parseBindAddress (text: string, what: string): { host: string, port: number } {
  const hint = ipv6BracketHint(text)
  if (hint != null) throw new UsageError(`invalid ${what} '${text}': ${hint}`)
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text)
  if (m != null) return { host: m[1] ?? '', port: parsePort(m[2] ?? '', `${what} port`, true) }
  return { host: '127.0.0.1', port: parsePort(text, `${what} port`, true) }
}
