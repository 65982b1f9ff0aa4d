import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { bindingRequest, parseBindingSuccess } from '../../relay/index.ts'
import { STUN_ATTEMPTS, STUN_TIMEOUT } from './constants.ts'

/** An IPv4 address and UDP port. */
export interface Endpoint {
  ip: string
  port: number
}

/** A bound IPv4 UDP socket (port 0: any free port). Errors after binding are swallowed: a punch counts answers, not send errors. */
export async function bindUdp (port = 0, address = '0.0.0.0'): Promise<Socket> {
  const sock = createSocket({ type: 'udp4' })
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind(port, address, () => { sock.off('error', reject); resolve() })
  })
  sock.on('error', () => {})
  return sock
}

/**
 * The mapping a STUN server sees for `sock` (its public address and port),
 * or undefined when it does not answer. Sends at most `attempts` requests,
 * to `server` only.
 */
export async function stunMapping (sock: Socket, server: Endpoint, options: { timeout?: number, attempts?: number, signal?: AbortSignal } = {}): Promise<Endpoint | undefined> {
  const timeout = options.timeout ?? STUN_TIMEOUT
  for (let attempt = 0; attempt < (options.attempts ?? STUN_ATTEMPTS); attempt++) {
    options.signal?.throwIfAborted()
    const txid = randomBytes(12)
    const seen = await new Promise<Endpoint | undefined>(resolve => {
      const onMessage = (msg: Buffer): void => {
        const m = parseBindingSuccess(msg, txid)
        if (m != null) { done(); resolve({ ip: m.address, port: m.port }) }
      }
      const t = setTimeout(() => { done(); resolve(undefined) }, timeout)
      const done = (): void => { clearTimeout(t); sock.off('message', onMessage) }
      sock.on('message', onMessage)
      sock.send(bindingRequest(txid), server.port, server.ip, err => { if (err != null) { done(); resolve(undefined) } })
    })
    if (seen != null) return seen
  }
  return undefined
}

/** Close a socket, ignoring one that is closed already. */
export function closeQuietly (sock: Socket): void {
  try { sock.close() } catch { /* closed */ }
}
