/**
 * A SOCKS5 pass-through in front of a real tor's SocksPort that leaves the
 * first `stall` client connections unanswered (it reads their greeting and
 * CONNECT, never replies, and records when the client gives up), as a
 * stalled circuit does, and relays every later connection byte for byte
 * to tor. Loopback only.
 */
import net from 'node:net'

export interface StallingSocks {
  port: number
  /** Client connections seen, in order, with when each opened and (for stalled ones) closed. */
  connections: Array<{ stalled: boolean, openedAt: number, closedAt?: number }>
  close: () => Promise<void>
}

export async function startStallingSocks (upstreamPort: number, stall: number): Promise<StallingSocks> {
  const connections: StallingSocks['connections'] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(client => {
    sockets.add(client)
    const entry: StallingSocks['connections'][number] = { stalled: connections.length < stall, openedAt: Date.now() }
    connections.push(entry)
    client.on('error', () => {})
    client.on('close', () => { entry.closedAt = Date.now(); sockets.delete(client) })
    if (entry.stalled) {
      client.on('data', () => {})
      return
    }
    const up = net.connect({ host: '127.0.0.1', port: upstreamPort })
    sockets.add(up)
    up.on('error', () => { client.destroy() })
    up.on('close', () => { sockets.delete(up); client.destroy() })
    client.on('close', () => { up.destroy() })
    client.pipe(up)
    up.pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
