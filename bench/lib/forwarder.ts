/**
 * A plain Node TCP forwarder (one hop): `forwarder.ts <targetPort> [listenPort]`
 * listens on 127.0.0.1 (default: a free port) and pipes each connection to 127.0.0.1:<targetPort>.
 * Two of them chained are the shape of any two-process tunnel in Node: its
 * ceiling. Prints `{"event":"ready","port":…}`.
 */
import { connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

const target = Number(process.argv[2])
const server = createServer({ noDelay: true }, (inbound) => {
  const outbound = connect({ host: '127.0.0.1', port: target, noDelay: true })
  inbound.pipe(outbound)
  outbound.pipe(inbound)
  const kill = (): void => { inbound.destroy(); outbound.destroy() }
  inbound.on('error', kill)
  outbound.on('error', kill)
})
server.listen({ host: '127.0.0.1', port: Number(process.argv[3] ?? 0), backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: (server.address() as AddressInfo).port }) + '\n')
})
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => { process.exit(0) })
