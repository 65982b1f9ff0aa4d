/**
 * Reading a relay's answer to RESERVE (src/relay/reserve-check.ts): status,
 * expiry and the limit that libp2p's reservation store drops. The bytes are
 * HopMessages as circuit-relay-v2 writes them.
 */
import { describe, it, expect } from 'vitest'
import { isLimited, parseReservationAnswer } from '../../../src/relay/index.ts'

/** A protobuf varint. */
function varint (n: number): number[] {
  const out: number[] = []
  let v = n
  while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80) }
  out.push(v)
  return out
}
const field = (n: number, wire: number): number[] => varint(n * 8 + wire)
const bytesField = (n: number, body: number[]): number[] => [...field(n, 2), ...varint(body.length), ...body]
const framed = (body: number[]): Uint8Array => Uint8Array.from([...varint(body.length), ...body])

/** HopMessage{type: STATUS, status, reservation{expire, addrs}, limit?}. */
function answer (status: number, limit?: { duration?: number, data?: number }): Uint8Array {
  const reservation = [...field(1, 0), ...varint(1_900_000_000), ...bytesField(2, [4, 127, 0, 0, 1, 6, 0x0f, 0xa1])]
  const lim = limit == null
    ? []
    : bytesField(4, [...(limit.duration != null ? [...field(1, 0), ...varint(limit.duration)] : []), ...(limit.data != null ? [...field(2, 0), ...varint(limit.data)] : [])])
  return framed([...field(1, 0), 2, ...bytesField(3, reservation), ...lim, ...field(5, 0), ...varint(status)])
}

describe('parseReservationAnswer', () => {
  it('reads an unlimited reservation (a beam relay with its defaults)', () => {
    const a = parseReservationAnswer(answer(100))
    expect(a).toEqual({ status: 100, expire: 1_900_000_000 })
    expect(isLimited(a.limit)).toBe(false)
  })

  it("reads the library default limit of a public relay (2 min, 128 KiB)", () => {
    const a = parseReservationAnswer(answer(100, { duration: 120_000, data: 131_072 }))
    expect(a.limit).toEqual({ duration: 120_000, data: 131_072 })
    expect(isLimited(a.limit)).toBe(true)
  })

  it('counts a data limit alone, or a duration alone, as a limit; an empty one as none', () => {
    expect(isLimited(parseReservationAnswer(answer(100, { data: 1 << 30 })).limit)).toBe(true)
    expect(isLimited(parseReservationAnswer(answer(100, { duration: 3600 })).limit)).toBe(true)
    expect(isLimited(parseReservationAnswer(answer(100, {})).limit)).toBe(false)
  })

  it('reads a refusal', () => {
    expect(parseReservationAnswer(framed([...field(1, 0), 2, ...field(5, 0), ...varint(200)])).status).toBe(200)
  })

  it('rejects truncated or malformed bytes and a message without a status, by name', () => {
    const good = answer(100)
    expect(() => parseReservationAnswer(good.subarray(0, good.length - 2))).toThrow(expect.objectContaining({ name: 'ReservationAnswerError' }))
    expect(() => parseReservationAnswer(framed([...field(1, 0), 2]))).toThrow(expect.objectContaining({ name: 'ReservationAnswerError' }))
    expect(() => parseReservationAnswer(framed([...field(1, 5), 1, 2, 3, 4]))).toThrow(expect.objectContaining({ name: 'ReservationAnswerError' }))
  })
})
