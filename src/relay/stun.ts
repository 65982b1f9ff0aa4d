import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import { crc32 } from 'node:zlib'
import { ipv6Bytes } from './address-groups.ts'
import { SourceRateLimiter } from './source-rate.ts'
import type { SourceRateInit } from './source-rate.ts'

/** RFC 5389 magic cookie. */
export const STUN_MAGIC = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const ATTR_FINGERPRINT = 0x8028
const FINGERPRINT_XOR = 0x5354554e

/** The parts of a STUN Binding request a responder needs. */
export interface BindingRequest { transactionId: Buffer }

/** Parse a datagram as a STUN Binding request; undefined for anything else. */
export function parseBindingRequest (msg: Buffer): BindingRequest | undefined {
  if (msg.length < 20) return undefined
  if ((msg[0] ?? 0) >> 6 !== 0) return undefined
  if (msg.readUInt16BE(0) !== BINDING_REQUEST) return undefined
  if (msg.readUInt32BE(4) !== STUN_MAGIC) return undefined
  const length = msg.readUInt16BE(2)
  if (length % 4 !== 0 || 20 + length !== msg.length) return undefined
  return { transactionId: Buffer.from(msg.subarray(8, 20)) }
}

function attr (type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4
  const out = Buffer.alloc(4 + value.length + pad)
  out.writeUInt16BE(type, 0)
  out.writeUInt16BE(value.length, 2)
  value.copy(out, 4)
  return out
}

function xorAddressValue (address: string, port: number, txid: Buffer): Buffer {
  const v4 = isIPv4(address)
  const ip = Buffer.from(v4 ? address.split('.').map(Number) : ipv6Bytes(address) ?? new Uint8Array(16))
  const out = Buffer.alloc(4 + ip.length)
  out.writeUInt8(0, 0)
  out.writeUInt8(v4 ? 0x01 : 0x02, 1)
  out.writeUInt16BE(port ^ (STUN_MAGIC >>> 16), 2)
  const key = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), txid])
  for (let i = 0; i < ip.length; i++) out[4 + i] = (ip[i] ?? 0) ^ (key[i] ?? 0)
  return out
}

/**
 * Build the Binding success response telling a client its address as seen
 * here: XOR-MAPPED-ADDRESS and FINGERPRINT only, 40 bytes for an IPv4 client
 * and 52 for IPv6 (a bare request is 20). MAPPED-ADDRESS is only for RFC 3489
 * clients, whose requests (no magic cookie) are not answered, and SOFTWARE is
 * optional: leaving both out makes a spoofed request yield at most 2.6 times
 * its size instead of 3.4 to 4.6 times.
 */
export function bindingResponse (req: BindingRequest, address: string, port: number): Buffer {
  const attrs = attr(ATTR_XOR_MAPPED_ADDRESS, xorAddressValue(address, port, req.transactionId))
  const header = Buffer.alloc(20)
  header.writeUInt16BE(BINDING_SUCCESS, 0)
  header.writeUInt16BE(attrs.length + 8, 2) // + FINGERPRINT
  header.writeUInt32BE(STUN_MAGIC, 4)
  req.transactionId.copy(header, 8)
  const body = Buffer.concat([header, attrs])
  const fp = Buffer.alloc(4)
  fp.writeUInt32BE(((crc32(body) ^ FINGERPRINT_XOR) >>> 0), 0)
  return Buffer.concat([body, attr(ATTR_FINGERPRINT, fp)])
}

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
