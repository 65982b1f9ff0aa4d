import { describe, it, expect } from 'vitest'
import { dashboardSetting } from '../../../../src/cli/dashboard/open.ts'

// `--dashboard [port]` / `--no-dashboard` as commander hands them over.

describe('dashboard flags', () => {
  it('is on with a free port by default and with a bare --dashboard; off with --no-dashboard', () => {
    expect(dashboardSetting(undefined)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(true)).toEqual({ enabled: true, port: 0 })
    expect(dashboardSetting(false)).toEqual({ enabled: false })
  })

  it('takes a port 1-65535; anything else is an invalid port (exit 3)', () => {
    expect(dashboardSetting('8080')).toEqual({ enabled: true, port: 8080 })
    for (const bad of ['0', '65536', 'web', '-1', '']) {
      expect(() => dashboardSetting(bad), bad).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
    }
  })
})
