import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { bindingResponse, parseBindingRequest } from './stun-codec.ts'
import { SourceRateLimiter } from './source-rate.ts'
import type { SourceRateInit } from './source-rate.ts'

export interface StunServerInit {
  /** @default '0.0.0.0' */
  host?: string
  /** @default 3478 */
  port?: number
  /** Called for every request answered (metrics). */
  onRequest?: () => void
  /** Called for every request left unanswered by the rate limits (metrics). */
  onDrop?: () => void
  /**
   * Answers per source IP and in total (see SourceRateLimiter).
   * @default 20 at once and 5 a second per source IP, 2000 a second in total, 10000 sources tracked
   */
  rateLimit?: SourceRateInit
}

export interface StunServer {
  host: string
  port: number
  close: () => Promise<void>
}

/**
 * A STUN Binding responder (RFC 5389, no authentication): enough for ICE to
 * learn server-reflexive candidates, so a beam deployment needs no
 * third-party STUN server. UDP sources can be spoofed, so answers are small
 * (see {@link bindingResponse}) and rate-limited per source IP and in total:
 * the responder cannot be turned into much of an amplifier against anyone.
 */
export async function startStunServer (init: StunServerInit = {}): Promise<StunServer> {
  const host = init.host ?? '0.0.0.0'
  const limiter = new SourceRateLimiter(init.rateLimit)
  const socket: Socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false })
  socket.on('message', (msg, rinfo) => {
    const req = parseBindingRequest(msg)
    if (req == null) return
    if (!limiter.allow(rinfo.address)) {
      init.onDrop?.()
      return
    }
    init.onRequest?.()
    socket.send(bindingResponse(req, rinfo.address, rinfo.port), rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(init.port ?? 3478, host, () => { socket.off('error', reject); resolve() })
  })
  socket.on('error', () => {})
  return {
    host,
    port: socket.address().port,
    close: async () => { await new Promise<void>(resolve => { socket.close(() => { resolve() }) }) }
  }
}
