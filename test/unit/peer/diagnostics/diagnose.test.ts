import { describe, expect, it } from 'vitest'
import { explain } from '../../../../src/peer/diagnostics/diagnose.ts'
import type { DoctorReport } from '../../../../src/peer/diagnostics/diagnose.ts'

describe('doctor verdict', () => {
  const base: DoctorReport = {
    peerId: 'me',
    nat: { mapping: 'symmetric', answers: [], localAddresses: ['10.3.0.2'] },
    iceServers: ['stun:198.51.100.11:3478'],
    stunAnsweredBy: [],
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
    expect(v).toMatch(/iceServers: turn:USER:PASS@HOST:PORT/)
    expect(v).not.toMatch(/--ice-server/)
    // a front end names its own setting (the CLI: its flag)
    expect(explain({ ...base, nat: { mapping: 'symmetric', answers: [], localAddresses: [] } }, { turnServer: 'a TURN server (--ice-server turn:U:P@H:P)' }).join('\n')).toMatch(/--ice-server turn:U:P@H:P/)
  })

  it('says when nothing can work: no relay reachable, UDP blocked', () => {
    const v = explain({ ...base, nat: { mapping: 'udp-blocked', answers: [{ server: 'x', error: 'no answer' }], localAddresses: [] }, bootstrap: [{ address: 'b', ok: false, error: 'refused' }] }).join('\n')
    expect(v).toMatch(/UDP looks blocked/)
    expect(v).toMatch(/None of the 1 bootstrap node/)
  })

  it('names the STUN servers that answered', () => {
    const v = explain({
      ...base,
      nat: { mapping: 'endpoint-independent', answers: [{ server: 'stun.example.test:3478', address: '127.0.0.1', mapped: { address: '198.51.100.13', port: 4000 } }, { server: '198.51.100.12:3478', error: 'no answer to 3 requests' }], localAddresses: ['10.3.0.2'] },
      stunAnsweredBy: ['stun.example.test:3478']
    }).join('\n')
    expect(v).toMatch(/STUN answered by stun\.example\.test:3478\./)
  })
})
