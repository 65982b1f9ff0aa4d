import type { Socket } from 'node:net'

/**
 * Wait for `open()`'s socket to connect to a local service, within `timeout`
 * ms and until `signal` aborts. On success the socket is paused (nothing is
 * read until the owner asks); on failure it is destroyed and the promise
 * rejects with `unreachable(code, cause)`: the errno code, `ETIMEDOUT`,
 * `ABORTED`, or `ERROR` when the error has none.
 */
export async function connectLocal (
  open: () => Socket,
  timeout: number,
  signal: AbortSignal | undefined,
  unreachable: (code: string, cause?: unknown) => Error
): Promise<Socket> {
  signal?.throwIfAborted()
  return await new Promise<Socket>((resolve, reject) => {
    const socket = open()
    const timer = setTimeout(() => { done(unreachable('ETIMEDOUT')) }, timeout)
    const onAbort = (): void => { done(unreachable('ABORTED')) }
    const done = (err?: Error): void => {
      clearTimeout(timer)
      socket.off('connect', onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
      if (err != null) {
        socket.destroy()
        reject(err)
      } else {
        socket.pause()
        resolve(socket)
      }
    }
    const onConnect = (): void => { done() }
    const onError = (err: NodeJS.ErrnoException): void => { done(unreachable(err.code ?? 'ERROR', err)) }
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
