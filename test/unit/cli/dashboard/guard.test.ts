import { describe, it, expect } from 'vitest'
import { checkRequest, cookieName, cookieValue, newDashboardToken, sameToken } from '../../../../src/cli/dashboard/index.ts'
import { LogCursor } from '../../../../src/cli/dashboard/index.ts'

// The dashboard's request checks, without a server: which Host, Origin,
// token and cookie are let through. test/e2e/dashboard.test.ts sends the
// same requests to a real beam process.

const PORT = 45678
const TOKEN = newDashboardToken()
const q = (s = ''): URLSearchParams => new URLSearchParams(s)
const host = `127.0.0.1:${PORT}`
const cookie = `${cookieName(PORT)}=${TOKEN}`

describe('dashboard request checks', () => {
  it('makes 256-bit base64url tokens, a new one each time', () => {
    expect(TOKEN).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(newDashboardToken()).not.toBe(TOKEN)
  })

  it('compares tokens of any length without throwing', () => {
    expect(sameToken(TOKEN, TOKEN)).toBe(true)
    expect(sameToken(TOKEN.slice(1), TOKEN)).toBe(false)
    expect(sameToken('', TOKEN)).toBe(false)
    expect(sameToken(TOKEN + 'x', TOKEN)).toBe(false)
  })

  it('reads one cookie out of several', () => {
    expect(cookieValue(`a=1; ${cookie}; b=2`, cookieName(PORT))).toBe(TOKEN)
    expect(cookieValue('a=1', cookieName(PORT))).toBeUndefined()
    expect(cookieValue(undefined, 'x')).toBeUndefined()
  })

  it('lets the token through in the query (first visit) or in this port\'s cookie', () => {
    expect(checkRequest({ host }, q(`token=${TOKEN}`), PORT, TOKEN)).toEqual({ viaQuery: true })
    expect(checkRequest({ host, cookie }, q(), PORT, TOKEN)).toEqual({ viaQuery: false })
    expect(checkRequest({ host: `localhost:${PORT}`, cookie, origin: `http://localhost:${PORT}` }, q(), PORT, TOKEN)).toEqual({ viaQuery: false })
    expect(checkRequest({ host: `LOCALHOST:${PORT}`, cookie }, q(), PORT, TOKEN)).toEqual({ viaQuery: false })
  })

  it('answers 401 without a token or with a wrong one (a wrong query token is not saved by a good cookie)', () => {
    expect(checkRequest({ host }, q(), PORT, TOKEN)).toMatchObject({ status: 401 })
    expect(checkRequest({ host }, q('token=nope'), PORT, TOKEN)).toMatchObject({ status: 401, reason: 'wrong token' })
    expect(checkRequest({ host, cookie }, q('token=nope'), PORT, TOKEN)).toMatchObject({ status: 401 })
    expect(checkRequest({ host, cookie: `${cookieName(PORT + 1)}=${TOKEN}` }, q(), PORT, TOKEN)).toMatchObject({ status: 401 })
    expect(checkRequest({ host, cookie: `${cookieName(PORT)}=${TOKEN.slice(0, -1)}` }, q(), PORT, TOKEN)).toMatchObject({ status: 401 })
  })

  it('answers 403 to a foreign Host (DNS rebinding) or Origin, even with the token', () => {
    for (const h of [undefined, 'evil.example', `evil.example:${PORT}`, '127.0.0.1', `127.0.0.1:${PORT + 1}`, `[::1]:${PORT}`, `127.0.0.2:${PORT}`]) {
      expect(checkRequest(h != null ? { host: h, cookie } : { cookie }, q(`token=${TOKEN}`), PORT, TOKEN), String(h)).toMatchObject({ status: 403 })
    }
    for (const o of ['http://evil.example', 'null', `https://127.0.0.1:${PORT}`, `http://127.0.0.1:${PORT + 1}`, `http://127.0.0.1:${PORT}.evil.example`]) {
      expect(checkRequest({ host, cookie, origin: o }, q(), PORT, TOKEN), o).toMatchObject({ status: 403 })
    }
  })
})

describe('LogCursor', () => {
  it('hands out each line once, also several lines kept in the same millisecond', () => {
    const c = new LogCursor()
    expect(c.since).toBeUndefined()
    expect(c.take([{ time: 1, line: 'a' }, { time: 2, line: 'b' }]).map(e => e.line)).toEqual(['a', 'b'])
    expect(c.since).toBe(2)
    // the store answers "at or after 2": b again, and a new line in the same ms
    expect(c.take([{ time: 2, line: 'b' }, { time: 2, line: 'c' }, { time: 3, line: 'd' }]).map(e => e.line)).toEqual(['c', 'd'])
    expect(c.take([{ time: 3, line: 'd' }]).map(e => e.line)).toEqual([])
  })
})
