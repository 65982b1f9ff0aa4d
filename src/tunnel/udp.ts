import { createSocket } from 'node:dgram'
import type { RemoteInfo, Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { AddressInUseError, ListenError, LocalServiceUnreachableError } from './errors.ts'

/** A bound local UDP socket. */
export interface UdpEndpoint {
  host: string
  port: number
  socket: Socket
  close: () => Promise<void>
}

function socketType (host: string): 'udp4' | 'udp6' {
  return isIPv6(host.replace(/^\[|\]$/g, '')) ? 'udp6' : 'udp4'
}

/** Bind a local UDP port; `onMessage` gets every datagram with its sender. */
export async function bindUdp (host: string, port: number, onMessage: (msg: Buffer, from: RemoteInfo) => void): Promise<UdpEndpoint> {
  const socket = createSocket({ type: socketType(host) })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close()
      if (err.code === 'EADDRINUSE') reject(new AddressInUseError(host, port, err))
      else if (err.code === 'EACCES') reject(new ListenError(`no permission to listen on ${host}:${port}/udp`, err))
      else if (err.code === 'EADDRNOTAVAIL') reject(new ListenError(`${host} is not an address of this machine`, err))
      else reject(new ListenError(`cannot listen on ${host}:${port}/udp: ${err.message}`, err))
    }
    socket.once('error', onError)
    socket.bind({ address: host, port }, () => {
      socket.off('error', onError)
      resolve()
    })
  })
  // errors after binding (an ICMP unreachable answer to a send) concern one datagram, not the socket
  socket.on('error', () => {})
  socket.on('message', onMessage)
  return {
    host,
    port: socket.address().port,
    socket,
    close: async () => { await new Promise<void>(resolve => { socket.close(() => { resolve() }) }) }
  }
}

/**
 * A UDP socket connected to a local service (its own source port: the
 * service's answers come back to it alone). Resolves once connected (the
 * name, if any, resolved); a service that is down shows only later, as
 * answers that never come (UDP has no handshake).
 */
export async function connectUdp (host: string, port: number, options: { signal?: AbortSignal } = {}): Promise<Socket> {
  options.signal?.throwIfAborted()
  const socket = createSocket({ type: socketType(host) })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close()
      reject(new LocalServiceUnreachableError(host, port, err.code ?? 'ERROR', err))
    }
    socket.once('error', onError)
    socket.connect(port, host, () => {
      socket.off('error', onError)
      resolve()
    })
  })
  socket.on('error', () => {})
  return socket
}
