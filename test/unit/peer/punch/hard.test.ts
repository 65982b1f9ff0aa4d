/**
 * The hard side's sequence hint (src/peer/punch/hard.ts): real UDP on
 * loopback, against a STUN responder that answers with the mapped ports a
 * NAT in front of this host would have given, in order, so each case is one
 * allocation pattern.
 */
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { PUNCH_TOKEN_LENGTH, startHardPunch } from '../../../../src/peer/punch/index.ts'
import { bindingResponse, parseBindingRequest } from '../../../../src/relay/index.ts'

const sockets: Socket[] = []
afterEach(() => {
  for (const s of sockets.splice(0)) s.close()
})

async function udp (): Promise<Socket> {
  const s = createSocket('udp4')
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', resolve))
  sockets.push(s)
  return s
}

/** A STUN responder that says 198.51.100.7:<next of `ports`> to each request, counting them. */
async function scriptedStun (ports: number[]): Promise<{ port: number, asked: () => number }> {
  const s = await udp()
  let n = 0
  s.on('message', (msg, rinfo) => {
    const req = parseBindingRequest(msg)
    if (req == null) return
    const port = ports[Math.min(n++, ports.length - 1)] ?? 1
    s.send(bindingResponse(req, '198.51.100.7', port), rinfo.port, rinfo.address)
  })
  return { port: s.address().port, asked: () => n }
}

/** Starts a hard punch of 4 sockets towards a silent peer, returns its hint and the STUN requests made. */
async function hintFor (ports: number[]): Promise<{ hint: unknown, asked: number }> {
  const stun = await scriptedStun(ports)
  const peer = await udp()
  const punch = await startHardPunch({
    peer: { ip: '127.0.0.1', port: peer.address().port },
    token: randomBytes(PUNCH_TOKEN_LENGTH),
    sockets: 4,
    stun: { ip: '127.0.0.1', port: stun.port },
    timeout: 2000
  })
  punch.close()
  await punch.result.catch(() => {})
  return { hint: punch.hint, asked: stun.asked() }
}

describe('punch/hard: the sequence hint from STUN answers', () => {
  it('a sequential NAT: two answers a step apart, one after the burst; three requests', async () => {
    expect(await hintFor([20000, 20001, 20006])).toEqual({ hint: { before: 20001, after: 20006 }, asked: 3 })
  })

  it('a first pair broken by a wrap of the NAT range (or a reused mapping) gets one more request, and the hint', async () => {
    expect(await hintFor([21023, 20000, 20001, 20006])).toEqual({ hint: { before: 20001, after: 20006 }, asked: 4 })
    expect(await hintFor([31337, 20000, 20001, 20006])).toEqual({ hint: { before: 20001, after: 20006 }, asked: 4 })
  })

  it('a second answer that is the odd one out (an old mapping kept) is skipped: the first and third are a step apart', async () => {
    expect(await hintFor([20000, 20871, 20002, 20007])).toEqual({ hint: { before: 20002, after: 20007 }, asked: 4 })
  })

  it('a random NAT: no hint, one extra request and no more', async () => {
    expect(await hintFor([40000, 9000, 31000, 5000, 5001, 5002])).toEqual({ hint: undefined, asked: 4 })
  })
})
