import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { AbstractMultiaddrConnectionInit } from '@libp2p/utils'
import type { Socket } from 'node:net'

/** What {@link SocketMultiaddrConnection} is made from: libp2p's connection init and the socket. */
export interface SocketMultiaddrConnectionInit extends AbstractMultiaddrConnectionInit {
  /** The socket the connection's bytes travel on. */
  socket: Socket
}

/**
 * A libp2p MultiaddrConnection over one net.Socket, with reset, pause and
 * resume mapped onto the socket. The Tor connection (tor/connection.ts) and
 * the I2P one (i2p/sam-conn.ts) build on it; each adds how its bytes are sent,
 * read and closed.
 */
export abstract class SocketMultiaddrConnection extends AbstractMultiaddrConnection {
  protected readonly socket: Socket

  constructor (init: SocketMultiaddrConnectionInit) {
    super(init)
    this.socket = init.socket
  }

  sendReset (): void {
    this.socket.destroy()
  }

  sendPause (): void {
    this.socket.pause()
  }

  sendResume (): void {
    this.socket.resume()
  }
}
