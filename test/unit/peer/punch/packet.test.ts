import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PUNCH_PACKET_LENGTH, PUNCH_TOKEN_LENGTH, PunchKind, decodePunchPacket, encodePunchPacket } from '../../../../src/peer/punch/index.ts'

describe('punch/packet: datagrams carry the attempt token', () => {
  const token = randomBytes(PUNCH_TOKEN_LENGTH)

  it('round-trips probes and acks', () => {
    const probe = encodePunchPacket(PunchKind.PROBE, token)
    expect(probe).toHaveLength(PUNCH_PACKET_LENGTH)
    expect(decodePunchPacket(probe, token)).toBe(PunchKind.PROBE)
    expect(decodePunchPacket(encodePunchPacket(PunchKind.ACK, token), token)).toBe(PunchKind.ACK)
  })

  it('ignores another token, other lengths, another magic or kind', () => {
    const probe = encodePunchPacket(PunchKind.PROBE, token)
    expect(decodePunchPacket(probe, randomBytes(PUNCH_TOKEN_LENGTH))).toBeUndefined()
    expect(decodePunchPacket(probe.subarray(1), token)).toBeUndefined()
    expect(decodePunchPacket(Buffer.concat([probe, Buffer.from([0])]), token)).toBeUndefined()
    const badMagic = Buffer.from(probe); badMagic[0] = 0
    expect(decodePunchPacket(badMagic, token)).toBeUndefined()
    const badKind = Buffer.from(probe); badKind[4] = 9
    expect(decodePunchPacket(badKind, token)).toBeUndefined()
    expect(() => encodePunchPacket(PunchKind.PROBE, token.subarray(1))).toThrow(RangeError)
  })
})
