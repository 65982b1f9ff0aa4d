/**
 * A libp2p MultiaddrConnection over a net.Socket: the socket Tor hands beam
 * (a SOCKS stream on the dialling side, a connection from tor to beam's
 * loopback listener on the onion side). Written after the shape of
 * @libp2p/tcp's socket-to-conn: bytes in → onData, send → socket.write,
 * half-close and reset mapped onto the socket.
 */
import type net from 'node:net'
import { SocketMultiaddrConnection } from '../socket-conn.ts'
import type { SendResult } from '@libp2p/utils'
import type { AbortOptions, Logger, MessageStreamDirection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SocketConnectionInit {
  socket: net.Socket
  /** What the peer is, as an address: the onion dialled, or the onion that was reached. */
  remoteAddr: Multiaddr
  direction: MessageStreamDirection
  log: Logger
}

class SocketConnection extends SocketMultiaddrConnection {

  constructor (init: SocketConnectionInit) {
    // no inactivity timeout: yamux keep-alives run over it, tunnels may idle for hours
    super({ socket: init.socket, remoteAddr: init.remoteAddr, direction: init.direction, log: init.log, inactivityTimeout: 0 })
    const socket = this.socket
    socket.setNoDelay(true)
    socket.on('data', (buf: Buffer) => { this.onData(buf) })
    socket.on('error', err => { this.log('socket error %s', err.message); this.abort(err) })
    socket.once('end', () => { this.onTransportClosed() })
    socket.once('close', hadError => {
      if (hadError) this.abort(new Error('Tor stream transmission error'))
      else this.onTransportClosed()
    })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
    socket.resume()
  }

  sendData (data: Uint8ArrayList): SendResult {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>(resolve => {
      const done = (): void => { options?.signal?.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => { this.socket.destroy(); done() }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      this.socket.once('close', done)
      this.socket.destroySoon()
    })
  }
}

export function socketToConnection (init: SocketConnectionInit): SocketMultiaddrConnection {
  return new SocketConnection(init)
}
