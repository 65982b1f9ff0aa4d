import { describe, it, expect } from 'vitest'
import { formatLogLine, parseSince } from '../../../../src/cli/commands/logs.ts'

describe('beam logs --since', () => {
  const now = Date.parse('2026-12-06T22:00:00Z')
  it('takes a duration back from now', () => {
    expect(parseSince('10m', now)).toBe(now - 600_000)
    expect(parseSince('2h', now)).toBe(now - 7_200_000)
    expect(parseSince('90', now)).toBe(now - 90_000)
    expect(parseSince('1d', now)).toBe(now - 86_400_000)
  })
  it('takes a date and time', () => {
    expect(parseSince('2026-12-06T21:00:00Z', now)).toBe(Date.parse('2026-12-06T21:00:00Z'))
  })
  it('refuses anything else with a usage error', () => {
    for (const bad of ['', 'yesterday', '10 minutes', '-5m', '2026-13-45']) {
      expect(() => parseSince(bad, now), bad).toThrow(expect.objectContaining({ name: 'UsageError' }) as Error)
    }
  })
})

describe('beam logs lines', () => {
  it('shows a pino line as time, level, component and message', () => {
    const line = JSON.stringify({ level: 40, time: Date.parse('2026-12-06T21:02:03Z'), component: 'share', msg: 'hello' })
    expect(formatLogLine({ time: 0, line })).toBe('21:02:03 WARN  [share] hello')
  })
  it('shows a line that is not JSON as it is', () => {
    expect(formatLogLine({ time: 0, line: 'plain' })).toBe('plain')
  })
})
