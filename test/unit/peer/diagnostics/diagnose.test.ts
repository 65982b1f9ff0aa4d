import { describe, expect, it } from 'vitest'
import { bindingResponse } from '../../../../src/relay/index.ts'
import { bindingRequest, classifyMapping, parseBindingSuccess, stunTargets } from '../../../../src/peer/diagnostics/nat-probe.ts'
import { explain } from '../../../../src/peer/diagnostics/diagnose.ts'
import type { DoctorReport } from '../../../../src/peer/diagnostics/diagnose.ts'

const TX = Buffer.from('00112233445566778899aabb', 'hex')

describe('NAT probe', () => {
  it('reads the mapped address from a Binding success response (beam relay\'s own encoder)', () => {
    expect(bindingRequest(TX).length).toBe(20)
    const res = bindingResponse({ transactionId: TX }, '198.51.100.13', 40123)
    expect(parseBindingSuccess(res, TX)).toEqual({ address: '198.51.100.13', port: 40123 })
    // another transaction's answer is not ours
    expect(parseBindingSuccess(res, Buffer.alloc(12))).toBeUndefined()
    expect(parseBindingSuccess(Buffer.alloc(10), TX)).toBeUndefined()
  })

  it('keeps only stun: URLs, defaulting the port to 3478', () => {
    expect(stunTargets(['stun:198.51.100.11:3478', 'turn:u:p@198.51.100.12:3479', 'stun:198.51.100.12', 'stun:198.51.100.11:3478'])).toEqual(['198.51.100.11:3478', '198.51.100.12:3478'])
  })

  it('classifies mapping behaviour from what servers saw', () => {
    const a = (address: string, port: number): { server: string, mapped: { address: string, port: number } } => ({ server: 's', mapped: { address, port } })
    expect(classifyMapping([], [])).toBe('udp-blocked')
    expect(classifyMapping([{ server: 's', error: 'x' }], [])).toBe('udp-blocked')
    expect(classifyMapping([a('198.51.100.13', 5000)], ['198.51.100.13'])).toBe('none')
    expect(classifyMapping([a('198.51.100.13', 5000)], ['10.0.0.2'])).toBe('unknown')
    expect(classifyMapping([a('198.51.100.13', 5000), a('198.51.100.13', 5000)], ['10.0.0.2'])).toBe('endpoint-independent')
    expect(classifyMapping([a('198.51.100.13', 5000), a('198.51.100.13', 5001)], ['10.0.0.2'])).toBe('symmetric')
  })
})

describe('doctor verdict', () => {
  const base: DoctorReport = {
    peerId: 'me',
    nat: { mapping: 'symmetric', answers: [], localAddresses: ['10.3.0.2'] },
    iceServers: ['stun:198.51.100.11:3478'],
    bootstrap: [{ address: '/ip4/198.51.100.11/tcp/4001/p2p/R', ok: true, rttMs: 1, relay: true }]
  }

  it('explains a relayed tunnel behind a symmetric NAT and points at TURN', () => {
    const v = explain({
      ...base,
      target: {
        peerId: 'peer',
        attempts: [{ address: '/ip4/10.2.0.2/tcp/1', kind: 'direct', ok: false, ms: 6000, error: 'timed out' }, { address: '/ip4/198.51.100.11/tcp/4001/p2p/R/p2p-circuit/p2p/peer', kind: 'relayed', ok: true, ms: 20 }],
        upgrades: [{ technique: 'webrtc', state: 'failed', address: '/ip4/198.51.100.11/tcp/4001/p2p/R/p2p-circuit/webrtc/p2p/peer', error: 'ICE failed' }],
        path: { direct: false, transport: 'relay', remote: '/ip4/198.51.100.11/tcp/4001/p2p/R/p2p-circuit/p2p/peer', rttMs: 2 }
      }
    }).join('\n')
    expect(v).toMatch(/symmetric mapping/)
    expect(v).toMatch(/relayed via \/ip4\/198\.51\.100\.11\/tcp\/4001\/p2p\/R/)
    expect(v).toMatch(/None of its 1 direct address/)
    expect(v).toMatch(/WebRTC hole punching failed \(ICE failed\)/)
    expect(v).toMatch(/--ice-server turn:/)
  })

  it('says when nothing can work: no relay reachable, UDP blocked', () => {
    const v = explain({ ...base, nat: { mapping: 'udp-blocked', answers: [{ server: 'x', error: 'no answer' }], localAddresses: [] }, bootstrap: [{ address: 'b', ok: false, error: 'refused' }] }).join('\n')
    expect(v).toMatch(/UDP looks blocked/)
    expect(v).toMatch(/None of the 1 bootstrap node/)
  })
})
