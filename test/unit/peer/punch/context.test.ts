import { describe, expect, it } from 'vitest'
import { PunchNat } from '../../../../src/signaling/index.ts'
import { PunchedPorts, ownNatOf } from '../../../../src/peer/punch/index.ts'

describe('punch/context: the punched-port slot and the NAT kind', () => {
  it('gives an offered port to one taker only, and not after it expired', async () => {
    const slot = new PunchedPorts()
    expect(slot.take()).toBeUndefined()
    slot.offer(41107)
    expect(slot.take()).toBe(41107)
    expect(slot.take()).toBeUndefined()
    slot.offer(41108, 5)
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(slot.take()).toBeUndefined()
  })

  it('reads the NAT kind and an IPv4 STUN server that answered from a STUN report', () => {
    const mapped = { address: '198.51.100.12', port: 40000 }
    const answers = [{ server: 'stun.example:3478', address: '192.0.2.7', mapped }, { server: '192.0.2.8:3479', mapped }]
    expect(ownNatOf({ mapping: 'endpoint-independent', answers, localAddresses: [] })).toEqual({ nat: PunchNat.EASY, stun: { ip: '192.0.2.7', port: 3478 } })
    expect(ownNatOf({ mapping: 'none', answers: answers.slice(1), localAddresses: [] })).toEqual({ nat: PunchNat.EASY, stun: { ip: '192.0.2.8', port: 3479 } })
    expect(ownNatOf({ mapping: 'symmetric', answers, localAddresses: [] })?.nat).toBe(PunchNat.HARD)
    expect(ownNatOf({ mapping: 'unknown', answers: answers.slice(0, 1), localAddresses: [] })?.nat).toBe(PunchNat.UNKNOWN)
    // nobody answered, or only over a name this side did not resolve to IPv4: no server to punch with
    expect(ownNatOf({ mapping: 'udp-blocked', answers: [{ server: '192.0.2.8:3479', error: 'no answer' }], localAddresses: [] })).toBeUndefined()
  })
})
