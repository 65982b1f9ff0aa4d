import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { AddressInUseError, ListenError, LocalServiceUnreachableError } from './errors.ts'
import { hostPort } from './host-port.ts'
import { connectLocal } from './local-connect.ts'

/** A bound local listener: a TCP port, or a unix socket (`path` set, `host` '' and `port` 0). */
export interface LocalListener {
  host: string
  port: number
  /** The unix socket's path. @default unset (TCP) */
  path?: string
  server: Server
  close: () => Promise<void>
}

/**
 * Bind a local TCP port. Accepted sockets arrive paused (nothing is read until
 * the owner asks: beam connect starts reading into the socket's buffer while
 * it opens the tunnel, and sends what came with the tunnel request) and
 * half-open capable.
 */
export async function listenTcp (host: string, port: number, onSocket: (socket: Socket) => void): Promise<LocalListener> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onSocket)
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') reject(new AddressInUseError(host, port, err))
      else if (err.code === 'EACCES') reject(new ListenError(`no permission to listen on ${hostPort(host, port)}`, err))
      else if (err.code === 'EADDRNOTAVAIL') reject(new ListenError(`${host} is not an address of this machine`, err))
      else reject(new ListenError(`cannot listen on ${hostPort(host, port)}: ${err.message}`, err))
    }
    server.once('error', onError)
    server.listen({ host, port }, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const addr = server.address()
  const bound = typeof addr === 'object' && addr != null ? addr.port : port
  return {
    host,
    port: bound,
    server,
    close: async () => {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

export interface ConnectTcpOptions {
  /** Give up after this many ms. @default 5000 */
  timeout?: number
  signal?: AbortSignal
}

/** Open a half-open capable TCP connection to a local service, with a deadline. */
export async function connectTcp (host: string, port: number, options: ConnectTcpOptions = {}): Promise<Socket> {
  return await connectLocal(
    () => createConnection({ host, port, allowHalfOpen: true, noDelay: true }),
    options.timeout ?? 5000,
    options.signal,
    (code, cause) => new LocalServiceUnreachableError(host, port, code, cause)
  )
}
