import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { lstat, unlink } from 'node:fs/promises'
import { AddressInUseError, ListenError, LocalServiceUnreachableError } from './errors.ts'
import type { ConnectTcpOptions, LocalListener } from './tcp.ts'
import { connectLocal } from './local-connect.ts'

/** How long {@link listenUnix} waits to learn whether someone listens on an existing socket file, in ms. */
const STALE_CHECK_TIMEOUT = 1000

/** Whether a process accepts connections on the unix socket at `path`. */
async function somebodyListens (path: string): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const socket = createConnection({ path })
    const done = (listening: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(listening)
    }
    // a listener that accepts nothing within the time is still a listener
    const timer = setTimeout(() => { done(true) }, STALE_CHECK_TIMEOUT)
    socket.once('connect', () => { done(true) })
    socket.once('error', (err: NodeJS.ErrnoException) => { done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT') })
  })
}

/**
 * Make room for a listening socket at `path`: nothing there is fine; a socket
 * file that nobody listens on (left by a killed process) is removed; anything
 * else (a live socket, a regular file, a directory) is an error.
 */
async function clearStaleSocket (path: string): Promise<void> {
  let kind: 'socket' | 'other'
  try {
    kind = (await lstat(path)).isSocket() ? 'socket' : 'other'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new ListenError(`cannot listen on ${path}: ${(err as Error).message}`, err)
  }
  if (kind === 'other') throw new ListenError(`cannot listen on ${path}: the file exists and is not a socket`)
  if (await somebodyListens(path)) throw new AddressInUseError(path, 0)
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new ListenError(`cannot remove the stale socket ${path}: ${err.message}`, err)
  })
}

/** Bind `server` to `path` with a umask that leaves the socket file to its owner (0600), from the first moment. */
async function bindOwnerOnly (server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') reject(new AddressInUseError(path, 0, err))
      else if (err.code === 'EACCES') reject(new ListenError(`no permission to listen on ${path}`, err))
      else reject(new ListenError(`cannot listen on ${path}: ${err.message}`, err))
    }
    server.once('error', onError)
    // the socket file is created by bind(), which server.listen() calls
    // before it returns: a chmod afterwards would leave a moment in which
    // another user could connect
    const previous = process.umask(0o177)
    try {
      server.listen({ path }, () => {
        server.off('error', onError)
        resolve()
      })
    } finally {
      process.umask(previous)
    }
  })
}

/**
 * Listen on a unix socket at `path`, mode 0600 (only this user may connect).
 * A socket file left there by a process that no longer listens is replaced;
 * a live one is {@link AddressInUseError}, any other file {@link ListenError}.
 * `close()` removes the socket file. Accepted sockets arrive paused and
 * half-open capable, as with {@link listenTcp}.
 */
export async function listenUnix (path: string, onSocket: (socket: Socket) => void): Promise<LocalListener> {
  await clearStaleSocket(path)
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onSocket)
  await bindOwnerOnly(server, path)
  return {
    host: '',
    port: 0,
    path,
    server,
    close: async () => {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
      // Node removes the file it bound; this covers a file left anyway
      await unlink(path).catch(() => {})
    }
  }
}

/** Open a half-open capable connection to a local service's unix socket, with a deadline. */
export async function connectUnix (path: string, options: ConnectTcpOptions = {}): Promise<Socket> {
  return await connectLocal(
    () => createConnection({ path, allowHalfOpen: true }),
    options.timeout ?? 5000,
    options.signal,
    (code, cause) => new LocalServiceUnreachableError(`unix:${path}`, undefined, code, cause)
  )
}
