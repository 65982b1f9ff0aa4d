import { describe, it, expect } from 'vitest'
import { classify, ExitCode } from '../../../src/cli/exit-codes.ts'

describe('exit codes', () => {
  it('maps every named error to its own code', () => {
    const named = (name: string): Error => Object.assign(new Error('x'), { name })
    expect(classify(named('InvalidPortError')).exit).toBe(ExitCode.INVALID_PORT)
    expect(classify(named('InvalidConnectStringError')).exit).toBe(ExitCode.INVALID_TARGET)
    expect(classify(named('AddressInUseError')).exit).toBe(ExitCode.ADDRESS_IN_USE)
    expect(classify(named('IdentityError')).exit).toBe(ExitCode.IDENTITY)
    expect(classify(named('TunnelRefusedError')).exit).toBe(ExitCode.REFUSED)
    expect(classify(named('PeerUnreachableError')).exit).toBe(ExitCode.PEER_UNREACHABLE)
    expect(classify(new TypeError('boom')).exit).toBe(ExitCode.INTERNAL)
    const codes = Object.values(ExitCode)
    expect(new Set(codes).size).toBe(codes.length)
  })
})
