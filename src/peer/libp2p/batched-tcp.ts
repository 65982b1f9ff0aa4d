/**
 * Patch of @libp2p/tcp's connections. Measured on @libp2p/tcp 11.0.28
 * (docs/performance.md, item 3). Retire it when upstream `sendData` in
 * `socket-to-conn.js` corks the socket for each batch (one `writev`).
 */
import { Socket } from 'node:net'
import { tcp } from '@libp2p/tcp'
import type { TCPComponents, TCPOptions } from '@libp2p/tcp'
import type { CreateListenerOptions, DialTransportOptions, MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'

/**
 * libp2p's TCP transport with one change: each batch of bytes libp2p hands a
 * TCP connection goes to the socket in one `writev` instead of one `write` per
 * piece.
 *
 * Why: @libp2p/tcp 11 (`socket-to-conn.js`, `sendData`) calls `socket.write`
 * for every chunk of the list it is given. A Noise message is at least two
 * chunks (a 2-byte length prefix and the ciphertext, plus the tag from
 * beam's crypto), so a 64 KiB yamux frame cost four or more syscalls and, with
 * `noDelay`, as many TCP segments, two of them 2 bytes long; the far side
 * then handles each as its own `data` event. Corking the socket for the
 * length of that loop makes Node flush the pieces together at `uncork()`: the
 * same bytes in the same order, in one system call.
 *
 * The connection object is internal to @libp2p/tcp, so beam reaches it where
 * the transport hands it over: the upgrader given to `dial` and
 * `createListener`. Only connections that are what @libp2p/tcp 11 makes (a
 * `socket` that is a net.Socket and a `sendData` method) are changed; anything
 * else is upgraded untouched. The upstream fix is the same cork/uncork inside
 * `sendData`; this module goes once that ships.
 */
export function batchedTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  const make = tcp(init)
  return (components) => {
    const transport = make(components)
    const dial = transport.dial.bind(transport)
    const createListener = transport.createListener.bind(transport)
    transport.dial = async (ma, options: DialTransportOptions) => await dial(ma, { ...options, upgrader: batchingUpgrader(options.upgrader) })
    transport.createListener = (options: CreateListenerOptions) => createListener({ ...options, upgrader: batchingUpgrader(options.upgrader) })
    return transport
  }
}

interface SendResult { sentBytes: number, canSendMore: boolean }
type SendData = (data: Iterable<Uint8Array>) => SendResult

/** What @libp2p/tcp's connection looks like from here: its socket and its (protected) write method. */
interface TcpConnectionShape { socket?: unknown, sendData?: unknown }

/**
 * Makes `conn` write each batch in one `writev`; returns false (and leaves the
 * connection alone) when it is not a TCP connection of the expected shape.
 */
export function batchWrites (conn: MultiaddrConnection): boolean {
  const shape = conn as unknown as TcpConnectionShape
  const socket = shape.socket
  if (!(socket instanceof Socket) || typeof shape.sendData !== 'function') return false
  const send = (shape.sendData as SendData).bind(conn)
  const batched: SendData = (data) => {
    socket.cork()
    try {
      return send(data)
    } finally {
      socket.uncork()
    }
  }
  shape.sendData = batched
  return true
}

function batchingUpgrader (upgrader: Upgrader): Upgrader {
  const upgradeInbound: Upgrader['upgradeInbound'] = async (maConn, opts) => {
    batchWrites(maConn)
    await upgrader.upgradeInbound(maConn, opts)
  }
  const upgradeOutbound: Upgrader['upgradeOutbound'] = async (maConn, opts) => {
    batchWrites(maConn)
    return await upgrader.upgradeOutbound(maConn, opts)
  }
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === 'upgradeInbound') return upgradeInbound
      if (prop === 'upgradeOutbound') return upgradeOutbound
      const value: unknown = Reflect.get(target, prop)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
