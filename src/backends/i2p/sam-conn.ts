/**
 * A libp2p MultiaddrConnection over one SAM stream socket, with beam's own
 * end-of-data marking.
 *
 * Over I2P streaming, bytes written just before a close can be lost (the
 * router tears the stream down before they are acknowledged). So the bytes on
 * the wire are frames, and a close is a handshake:
 *
 *   DATA    0x00, length (u32 BE), payload
 *   FIN     0x01   "I will send nothing more"
 *   FIN_ACK 0x02   "I have read everything up to your FIN"
 *
 * Closing sends FIN and keeps the socket open until the FIN_ACK arrives (or
 * the far side closes, or `closeTimeoutMs` passes); only then is the socket
 * ended. The side that receives a FIN answers FIN_ACK and ends the
 * connection itself after a short linger: a router need not pass the
 * stream's close on (i2pd 2.45 did not). A stream that ends without a FIN is reported as cut
 * (I2pStreamCutError), never as a clean end, so a truncated transfer cannot
 * pass for a whole one.
 */
import type { AbstractMultiaddrConnectionInit } from '@libp2p/utils'
import { SocketMultiaddrConnection } from '../socket-conn.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'
import { I2pStreamCutError } from './errors.ts'

const DATA = 0x00
const FIN = 0x01
const FIN_ACK = 0x02

/** How long a finished connection keeps its socket so the last frame leaves, in milliseconds. */
const LINGER_MS = 1000

/** Default bound for the close handshake, in milliseconds. */
export const DEFAULT_CLOSE_TIMEOUT = 30_000

export interface SamConnectionInit extends AbstractMultiaddrConnectionInit {
  socket: Socket
  /** Bytes read from the socket before it was handed over. */
  leftover?: Uint8Array
  /**
   * How long a close waits for the far side's FIN_ACK, in milliseconds.
   * @default 30000
   */
  closeTimeoutMs?: number
}

class SamMultiaddrConnection extends SocketMultiaddrConnection {
  private readonly closeTimeoutMs: number
  private finSent = false
  private finReceived = false
  private finAcked = false
  private finishing = false
  private readonly finAckWaiters = new Set<() => void>()
  // frame decoder state
  private header = Buffer.alloc(0)
  private remaining = 0

  constructor (init: SamConnectionInit) {
    super(init)
    this.closeTimeoutMs = init.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT
    const socket = init.socket
    socket.setNoDelay(true)
    socket.on('data', (buf: Buffer) => { this.decode(buf) })
    socket.on('error', (err) => {
      this.log('sam stream error %s', err.message)
      this.wakeFinAck()
      this.abort(err)
    })
    socket.once('end', () => {
      this.wakeFinAck()
      if (!this.finReceived && !this.finSent) {
        this.onTransportClosed(new I2pStreamCutError('the I2P stream ended without end-of-data: the far side vanished or the stream was cut'))
      }
    })
    socket.once('close', () => {
      this.wakeFinAck()
      if (!this.finReceived && !this.finSent) {
        this.onTransportClosed(new I2pStreamCutError('the I2P stream closed without end-of-data'))
        return
      }
      this.onTransportClosed()
    })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
    if (init.leftover != null && init.leftover.length > 0) {
      const leftover = Buffer.from(init.leftover)
      queueMicrotask(() => { this.decode(leftover) })
    }
  }

  private decode (buf: Buffer): void {
    let i = 0
    while (i < buf.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - i)
        this.remaining -= n
        if (!this.finReceived) this.onData(buf.subarray(i, i + n))
        i += n
        continue
      }
      if (this.header.length === 0) {
        const type = buf[i]
        if (type === FIN) {
          i++
          this.onFin()
          continue
        }
        if (type === FIN_ACK) {
          i++
          this.finAcked = true
          this.wakeFinAck()
          continue
        }
        if (type !== DATA) {
          this.abort(new I2pStreamCutError(`bad frame type ${String(type)} on an I2P stream (not a beam peer?)`))
          return
        }
      }
      // DATA header: 1 + 4 bytes, possibly split across chunks
      const need = 5 - this.header.length
      const take = buf.subarray(i, i + need)
      this.header = Buffer.concat([this.header, take])
      i += take.length
      if (this.header.length === 5) {
        this.remaining = this.header.readUInt32BE(1)
        this.header = Buffer.alloc(0)
      }
    }
  }

  private onFin (): void {
    if (this.finReceived) return
    this.finReceived = true
    this.log('remote end-of-data, acknowledging')
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(Buffer.of(FIN_ACK))
    // the far side is done with this connection (a libp2p close is a full
    // close). Routers do not reliably pass a stream's close on (i2pd 2.45 did
    // not within 20 s), so do not wait for one: end here, after a short linger
    // that lets the FIN_ACK leave
    this.finish()
    this.onTransportClosed()
  }

  /** End the socket after LINGER_MS; destroy it if the router keeps it open. */
  private finish (): void {
    if (this.finishing) return
    this.finishing = true
    setTimeout(() => {
      this.socket.end()
      setTimeout(() => { this.socket.destroy() }, LINGER_MS).unref()
    }, LINGER_MS).unref()
  }

  private wakeFinAck (): void {
    for (const w of this.finAckWaiters) w()
    this.finAckWaiters.clear()
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      const header = Buffer.allocUnsafe(5)
      header[0] = DATA
      header.writeUInt32BE(buf.byteLength, 1)
      this.socket.write(header)
      canSendMore = this.socket.write(buf)
      sentBytes += buf.byteLength
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    if (!this.finSent) {
      this.finSent = true
      this.socket.write(Buffer.of(FIN))
    }
    if (!this.finAcked && !this.socket.readableEnded) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(() => {
          this.log('no FIN_ACK within %d ms, closing anyway', this.closeTimeoutMs)
          done()
        }, this.closeTimeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          options?.signal?.removeEventListener('abort', done)
          this.finAckWaiters.delete(done)
          resolve()
        }
        this.finAckWaiters.add(done)
        options?.signal?.addEventListener('abort', done, { once: true })
      })
    }
    // everything we sent has been read by the far side: now end the stream
    this.finish()
  }
}

export function toSamConnection (init: SamConnectionInit): SocketMultiaddrConnection {
  return new SamMultiaddrConnection(init)
}
