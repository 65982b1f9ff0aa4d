import { describe, it, expect } from 'vitest'
import { renderMetrics, parseHopHeader, RELAY_STATUS } from '../../../src/relay/index.ts'

describe('relay accounting', () => {
  it('reads type, status and the reservation field of a length-prefixed HopMessage', () => {
    // STATUS(2), status 202 (PERMISSION_DENIED)
    expect(parseHopHeader(Uint8Array.from([5, 0x08, 0x02, 0x28, 0xca, 0x01]))).toEqual({ type: 2, status: 202 })
    // STATUS(2), reservation {…2 bytes}, status 100 (OK)
    expect(parseHopHeader(Uint8Array.from([8, 0x08, 0x02, 0x1a, 0x02, 0x08, 0x01, 0x28, 0x64]))).toEqual({ type: 2, status: 100, hasReservation: true })
    expect(RELAY_STATUS[202]).toBe('permission_denied')
    // truncated or not protobuf: no answer rather than a wrong one
    expect(parseHopHeader(Uint8Array.from([0x80]))).toBeUndefined()
    expect(parseHopHeader(Uint8Array.from([3, 0x0f, 0x00, 0x00]))).toBeUndefined()
  })

  it('renders labelled counter families with one HELP/TYPE header', () => {
    const text = renderMetrics([
      { name: 'x_total', help: 'h', type: 'counter', value: 1, labels: { reason: 'a' } },
      { name: 'x_total', help: 'h', type: 'counter', value: 2, labels: { reason: 'b"c' } }
    ])
    expect(text).toBe('# HELP x_total h\n# TYPE x_total counter\nx_total{reason="a"} 1\nx_total{reason="b\\"c"} 2\n')
  })
})
