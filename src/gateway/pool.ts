import type { Agent, ClientRequestArgs } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'

/**
 * Keep-alive tunnel streams to one share: a node:http Agent whose
 * "connections" are tunnel streams. A visitor request takes a free stream
 * (on which the share already holds a connection to its service) or opens a
 * new one; after the response the stream goes back to the pool. This saves
 * a stream open, a tunnel handshake and a TCP connect at the share per
 * request, as a reverse proxy's keep-alive upstream does.
 */

/** Streams kept open and idle per share, at most. @default 32 */
export const DEFAULT_FREE_STREAMS = 32

/**
 * The parts of net.Socket the Agent and the HTTP client call, on a Duplex:
 * keep-alive and no-delay are the tunnel's business (no-ops), ref/unref do
 * nothing (a stream holds no handle), and setTimeout is an idle timer reset
 * by traffic either way, as on a socket (the Agent closes idle pooled
 * streams with it).
 */
export function socketLike (duplex: Duplex): Socket {
  let timer: NodeJS.Timeout | undefined
  let ms = 0
  // traffic restarts the one timer (refresh) instead of making a new one per chunk
  const arm = (): void => {
    if (timer != null && ms > 0) { timer.refresh(); return }
    if (timer != null) clearTimeout(timer)
    timer = ms > 0 ? setTimeout(() => { duplex.emit('timeout') }, ms) : undefined
    timer?.unref()
  }
  const write = duplex.write.bind(duplex) as (...args: unknown[]) => boolean
  const extra = {
    timeout: 0,
    setKeepAlive () { return duplex },
    setNoDelay () { return duplex },
    ref () { return duplex },
    unref () { return duplex },
    setTimeout (next: number, cb?: () => void) {
      if (next !== ms && timer != null) { clearTimeout(timer); timer = undefined }
      ms = next
      extra.timeout = next
      if (cb != null) duplex.once('timeout', cb)
      arm()
      return duplex
    },
    write (...args: unknown[]) {
      if (ms > 0) arm()
      return write(...args)
    }
  }
  duplex.on('data', () => { if (ms > 0) arm() })
  // as a net.Socket without allowHalfOpen: the share's end (its service closed
  // the connection) ends this side too, so the stream closes and leaves the
  // pool instead of taking the next request into a dead end
  duplex.on('end', () => { duplex.end() })
  duplex.on('close', () => { if (timer != null) clearTimeout(timer) })
  return Object.assign(duplex, extra) as unknown as Socket
}

/**
 * An Agent that opens tunnel streams to one share. The class is made on
 * first use: node:http (~13 MB of a process's RSS, docs/performance.md,
 * "Idle memory") is loaded by processes that serve visitors, not by every
 * `beam share` whose CLI merely contains this code.
 */
export function tunnelAgent (open: () => Promise<Duplex>, options: { maxFreeSockets?: number } = {}): Agent {
  tunnelAgentClass ??= makeTunnelAgentClass()
  return new tunnelAgentClass(open, options)
}

type TunnelAgentClass = new (open: () => Promise<Duplex>, options: { maxFreeSockets?: number }) => Agent
let tunnelAgentClass: TunnelAgentClass | undefined

function makeTunnelAgentClass (): TunnelAgentClass {
  return class TunnelAgent extends process.getBuiltinModule('node:http').Agent {
    private readonly openStream: () => Promise<Duplex>

    constructor (open: () => Promise<Duplex>, options: { maxFreeSockets?: number }) {
      super({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: options.maxFreeSockets ?? DEFAULT_FREE_STREAMS, scheduling: 'lifo' })
      this.openStream = open
    }

    // the Agent calls this for every new "connection"; the callback form is asynchronous
    override createConnection (_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
      this.openStream().then(d => { callback?.(null, socketLike(d)) }, (err: Error) => { callback?.(err, undefined as unknown as Duplex) })
      return undefined as unknown as Duplex
    }
  }
}
