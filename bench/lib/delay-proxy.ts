import { createServer, connect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

/** A TCP proxy on 127.0.0.1 that holds every chunk (and the FIN) `delayMs` in each direction. */
export interface DelayProxy {
  port: number
  close: () => Promise<void>
}

function delayed (from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (d: Buffer) => { setTimeout(() => { if (!to.destroyed) to.write(d) }, delayMs) })
  from.on('end', () => { setTimeout(() => { if (!to.destroyed) to.end() }, delayMs) })
  from.on('error', () => { to.destroy() })
  from.on('close', () => { setTimeout(() => { to.destroy() }, delayMs) })
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:`targetPort` with `delayMs` of latency each way (TCP_NODELAY on both sockets). */
export async function startDelayProxy (targetPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>()
  const server: Server = createServer({ noDelay: true }, (down) => {
    const up = connect({ host: '127.0.0.1', port: targetPort, noDelay: true })
    for (const s of [down, up]) { sockets.add(s); s.once('close', () => { sockets.delete(s) }) }
    delayed(down, up, delayMs)
    delayed(up, down, delayMs)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
