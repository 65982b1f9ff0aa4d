import { describe, it, expect } from 'vitest'
import { dashboardSetting } from '../../../../src/cli/dashboard/open.ts'

// `--dashboard [port]` / `--no-dashboard` as commander hands them over.

describe('dashboard flags', () => {
  it('is on with a free port by default and with a bare --dashboard; off with --no-dashboard', () => {
    expect(dashboardSetting(undefined)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(true)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(false)).toEqual({ enabled: false })
  })

  it('falls back to the config file\'s dashboard: (false, true or a port); a flag wins', () => {
    expect(dashboardSetting(undefined, false)).toEqual({ enabled: false })
    expect(dashboardSetting(undefined, true)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(undefined, 8080)).toEqual({ enabled: true, port: 8080 })
    expect(dashboardSetting(false, 8080)).toEqual({ enabled: false })
    expect(dashboardSetting(true, false)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(true, 8080)).toEqual({ enabled: true, port: 8080 })
    expect(dashboardSetting('9090', false)).toEqual({ enabled: true, port: 9090 })
  })

  it('takes a port 1-65535; anything else is an invalid port (exit 3)', () => {
    expect(dashboardSetting('8080')).toEqual({ enabled: true, port: 8080 })
    for (const bad of ['0', '65536', 'web', '-1', '']) {
      expect(() => dashboardSetting(bad), bad).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
    }
  })
})
