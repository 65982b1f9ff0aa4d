import net from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { lpStream, streamPair } from '@libp2p/utils'
import type { AbstractMessageStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { describe, it, expect } from 'vitest'
import { pipeSocketStream, TunnelTruncatedError } from '../../../src/tunnel/index.ts'
import type { PipeResult } from '../../../src/tunnel/index.ts'
import { waitUntil } from '../../helpers/wait.ts'

/** A loopback TCP socket pair: `inner` goes to the pipe, `outer` is the local application. */
async function socketPair (): Promise<{ inner: Socket, outer: Socket, close: () => Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<Socket>(resolve => server.once('connection', resolve))
  const outer = net.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, allowHalfOpen: true })
  outer.on('error', () => {})
  const inner = await accepted
  return { inner, outer, close: async () => { outer.destroy(); inner.destroy(); await new Promise<void>(resolve => server.close(() => { resolve() })) } }
}

/** What the local application saw: bytes, and whether the end was clean. */
async function collect (s: Socket): Promise<{ bytes: number, end: 'clean' | string }> {
  return await new Promise(resolve => {
    let bytes = 0
    s.on('data', (d: Buffer) => { bytes += d.length })
    s.on('end', () => { resolve({ bytes, end: 'clean' }) })
    s.on('error', (e: NodeJS.ErrnoException) => { resolve({ bytes, end: e.code ?? e.message }) })
  })
}

/** Resolves once `s` has received `n` bytes (beside whoever else reads it). */
async function arrived (s: Socket, n: number): Promise<void> {
  await new Promise<void>(resolve => {
    let bytes = 0
    const onData = (d: Buffer): void => { bytes += d.length; if (bytes >= n) { s.off('data', onData); resolve() } }
    s.on('data', onData)
  })
}

// The stream's transport going away, as a muxer reports it when its
// connection closes without the remote's FIN (a Tor circuit torn down, a
// relayed connection cut): a close without error.
function cutTransport (stream: Stream): void {
  (stream as unknown as AbstractMessageStream).onTransportClosed()
}

describe('pipeSocketStream: how a tunnel ends', () => {
  it('resets the local socket when the connection closes before the remote FIN (truncation is never a clean end)', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      const seen = collect(outer)
      const delivered = arrived(outer, 64 * 1024)
      const piped: Promise<PipeResult> = pipeSocketStream(inner, local)
      remote.send(Buffer.alloc(64 * 1024, 1))
      await delivered
      cutTransport(local)
      const result = await piped
      const got = await seen
      expect(got.bytes).toBe(64 * 1024)
      expect(got.end).toBe('ECONNRESET')
      expect(result.error).toBeInstanceOf(TunnelTruncatedError)
    } finally {
      await close()
    }
  })

  it('says when the local side reset its socket (localReset), and resets the stream in turn', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      const remoteClosed = new Promise<Error | undefined>(resolve => { remote.addEventListener('close', (e) => { resolve(e.error) }, { once: true }) })
      const piped = pipeSocketStream(inner, local)
      const delivered = arrived(outer, 5)
      remote.send(Buffer.from('hello'))
      await delivered
      outer.resetAndDestroy()
      const result = await piped
      expect(result.localReset).toBe(true)
      expect((result.error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET')
      expect(await remoteClosed).toBeInstanceOf(Error)
    } finally {
      await close()
    }
  })

  it('a reset that comes from the stream is not the local side\'s (no localReset)', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      const seen = collect(outer)
      const piped = pipeSocketStream(inner, local)
      remote.abort(new Error('remote failed'))
      const result = await piped
      expect(result.localReset).toBeUndefined()
      expect(result.error).toBeInstanceOf(Error)
      expect((await seen).end).toBe('ECONNRESET')
    } finally {
      await close()
    }
  })

  it('ends the local socket cleanly after the remote FIN and all data', async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      const seen = collect(outer)
      const piped = pipeSocketStream(inner, local)
      remote.send(Buffer.alloc(256 * 1024, 2))
      await remote.close()
      outer.end()
      const result = await piped
      expect(await seen).toEqual({ bytes: 256 * 1024, end: 'clean' })
      expect(result.error).toBeUndefined()
      expect(result.received).toBe(256 * 1024)
    } finally {
      await close()
    }
  })

  it('resets the local socket when it sends bytes after the connection went away (they would vanish otherwise)', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      let errorCode: string | undefined
      outer.on('error', (e: NodeJS.ErrnoException) => { errorCode = e.code })
      const seen = collect(outer)
      const piped = pipeSocketStream(inner, local)
      remote.send(Buffer.from('bye'))
      await remote.close()
      // the remote finished (the application got every byte and the FIN);
      // then its connection goes while ours is still open
      expect(await seen).toEqual({ bytes: 3, end: 'clean' })
      cutTransport(local)
      outer.write('late bytes')
      const result = await piped
      expect(result.error).toBeInstanceOf(TunnelTruncatedError)
      // the application, done reading, learns it on its next write
      for (let i = 0; i < 20 && errorCode == null; i++) {
        outer.write('more')
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      expect(errorCode).toMatch(/ECONNRESET|EPIPE/)
    } finally {
      await close()
    }
  })

  it('passes on bytes and a FIN that came right behind a handshake message, in that order (the reader pushed the bytes back)', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      // the far side answers the handshake, sends its first bytes and its FIN
      // at once: a service that writes a short answer and closes, or a client
      // that sent its request and half-closed before the tunnel was up
      const reader = lpStream(local)
      const answer = reader.read()
      const remoteLp = lpStream(remote)
      const sent = remoteLp.write(Buffer.from('ok'))
      remote.send(Buffer.from('HTTP/1.1 200 OK\r\n\r\nhi'))
      await sent
      await remote.close()
      expect(Buffer.from((await answer).subarray()).toString()).toBe('ok')
      // the stream has ended while the bytes sat in the handshake reader
      await waitUntil('the stream to end', () => local.readableEnded === true, { timeoutMs: 5000, everyMs: 5 })
      const raw = reader.unwrap()
      const seen = collect(outer)
      const piped = pipeSocketStream(inner, raw)
      outer.end()
      const result = await piped
      expect(await seen).toEqual({ bytes: 'HTTP/1.1 200 OK\r\n\r\nhi'.length, end: 'clean' })
      expect(result.error).toBeUndefined()
    } finally {
      await close()
    }
  })

  it('passes on an EOF the socket had already delivered before the pipe began (its first bytes were read by the caller)', { timeout: 10_000 }, async () => {
    const [local, remote] = await streamPair()
    const { inner, outer, close } = await socketPair()
    try {
      const got: Buffer[] = []
      remote.addEventListener('message', (evt) => { got.push(Buffer.from(evt.data.subarray())) })
      const remoteEnded = new Promise<void>(resolve => { remote.addEventListener('remoteCloseWrite', () => { resolve() }) })
      outer.end('early request')
      await waitUntil('the request to arrive', () => inner.readableLength >= 'early request'.length, { timeoutMs: 5000, everyMs: 5 })
      // the caller takes the buffered bytes itself (beam connect sends them
      // with the tunnel request): the socket reaches its end before the pipe
      const early = inner.read() as Buffer
      expect(early.toString()).toBe('early request')
      await waitUntil('the socket to end', () => inner.readableEnded, { timeoutMs: 5000, everyMs: 5 })
      local.send(early)
      const piped = pipeSocketStream(inner, local)
      await remoteEnded
      expect(Buffer.concat(got).toString()).toBe('early request')
      await remote.close()
      const result = await piped
      expect(result.error).toBeUndefined()
    } finally {
      await close()
    }
  })
})
