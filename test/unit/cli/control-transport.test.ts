import { describe, it, expect } from 'vitest'
import { controlTransport } from '../../../src/cli/control.ts'

// Which control endpoint a long-running command opens: BEAM_CONTROL, else
// the platform's (a loopback port with a token file on Windows).

describe('controlTransport', () => {
  it('defaults to a unix socket, and to a loopback port on Windows', () => {
    expect(controlTransport({}, 'linux')).toBe('unix')
    expect(controlTransport({}, 'darwin')).toBe('unix')
    expect(controlTransport({}, 'win32')).toBe('tcp')
    expect(controlTransport({ BEAM_CONTROL: '' }, 'win32')).toBe('tcp')
  })

  it('takes BEAM_CONTROL=unix|tcp (any case) and refuses anything else as a usage error', () => {
    expect(controlTransport({ BEAM_CONTROL: 'tcp' }, 'linux')).toBe('tcp')
    expect(controlTransport({ BEAM_CONTROL: ' TCP ' }, 'linux')).toBe('tcp')
    expect(controlTransport({ BEAM_CONTROL: 'unix' }, 'linux')).toBe('unix')
    expect(() => controlTransport({ BEAM_CONTROL: 'pipe' }, 'linux')).toThrow(expect.objectContaining({ name: 'UsageError', message: "invalid BEAM_CONTROL 'pipe': expected unix or tcp" }))
  })
})
