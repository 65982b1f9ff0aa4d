import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** Bytes of randomness in a dashboard token (256 bits, base64url: 43 characters). */
export const TOKEN_BYTES = 32

/** A new random dashboard token. */
export const newDashboardToken = (): string => randomBytes(TOKEN_BYTES).toString('base64url')

/** The cookie that carries the token after the first visit; per port, since browsers share cookies across the ports of a host. */
export const cookieName = (port: number): string => `beam_dashboard_${port}`

/** Whether two tokens are equal, in time that does not depend on where they differ (both are hashed to 32 bytes first). */
export function sameToken (given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** The value of one cookie in a Cookie header, or undefined. */
export function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header == null) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** The hosts a dashboard answers to: its own loopback address and port, nothing else (DNS rebinding). */
export const allowedHosts = (port: number): string[] => [`127.0.0.1:${port}`, `localhost:${port}`]

/** Why a request is refused, or null when it may be answered. */
export interface Refusal {
  /** HTTP status: 403 for a foreign Host or Origin, 401 for a missing or wrong token. */
  status: 401 | 403
  /** One line for the response body and the debug log. */
  reason: string
}

/**
 * Check a request's Host and Origin headers against the dashboard's own
 * address (a page of another site that rebinds its name to 127.0.0.1 sends
 * its own name as Host; a cross-site request carries its Origin), then its
 * token: in the `token` query parameter (the first visit) or the cookie.
 * Returns the refusal, or `{ viaQuery }` saying where the token was.
 */
export function checkRequest (headers: IncomingHttpHeaders, query: URLSearchParams, port: number, token: string): Refusal | { viaQuery: boolean } {
  const hosts = allowedHosts(port)
  const host = headers.host
  if (host == null || !hosts.includes(host.toLowerCase())) return { status: 403, reason: `foreign Host header ${JSON.stringify(host ?? '')}` }
  const origin = headers.origin
  if (origin != null && !hosts.some(h => origin.toLowerCase() === `http://${h}`)) return { status: 403, reason: `foreign Origin header ${JSON.stringify(origin)}` }
  const fromQuery = query.get('token')
  if (fromQuery != null) return sameToken(fromQuery, token) ? { viaQuery: true } : { status: 401, reason: 'wrong token' }
  const fromCookie = cookieValue(headers.cookie, cookieName(port))
  if (fromCookie == null) return { status: 401, reason: 'no token: open the URL beam printed (it carries ?token=…)' }
  return sameToken(fromCookie, token) ? { viaQuery: false } : { status: 401, reason: 'wrong token' }
}
