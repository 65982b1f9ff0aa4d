import type { Connection, PeerId, Stream } from '@libp2p/interface'

/**
 * Circuits go to a peer over its newest connection to the relay.
 *
 * circuit-relay-v2 4.2.13's server sends a CONNECT's STOP request over
 * `connectionManager.getConnections(peer)[0]`: the peer's oldest connection.
 * When a reserving peer's address changes (a laptop on another network, a
 * NAT that gave its flow a new port), it connects and reserves again from
 * the new address, while its connection from the old address still looks
 * open to the relay until the connection monitor's ping fails (up to ~30 s).
 * Every circuit to the peer then went over the dead connection and hung until
 * that ping failed: in the NAT lab a connector reached a share that had moved
 * ~6 s late. beam gives the server a view of the connection manager that
 * lists a peer's open, direct connections newest first (the one its current
 * reservation came over). And a STOP request still waiting on one
 * connection is also sent over a newer connection from the peer that opens
 * meanwhile (the peer reconnecting from its new address a moment after the
 * CONNECT came): the first to accept carries the circuit. A relayed dial that
 * arrived just before the peer came back hung ~12 s in the NAT lab otherwise.
 * Retire this when the server picks the connection its reservation was made
 * on and gives up on a silent one.
 */

/** The part of the connection manager this patch reorders. */
interface ConnectionLister {
  getConnections: (peer?: PeerId) => Connection[]
}

/** What the server's STOP step takes: the destination's connection, and the request. */
interface StopArgs {
  connection: Connection
  request: unknown
}

/** The events this patch listens to. */
interface ConnectionEvents {
  addEventListener: (type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void) => void
  removeEventListener: (type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void) => void
}

/** The part of circuit-relay-v2's server this patch uses. */
export interface RelayServerComponents {
  components: { connectionManager: ConnectionLister, events: ConnectionEvents }
  stopHop: (args: StopArgs, options: { signal?: AbortSignal }) => Promise<Stream | undefined>
}

/** Whether `service` looks like the circuit-relay-v2 server this patch knows. */
export function hasRelayComponents (service: unknown): service is RelayServerComponents {
  const s = service as { stopHop?: unknown, components?: { connectionManager?: { getConnections?: unknown }, events?: { addEventListener?: unknown } } } | undefined
  return typeof s?.components?.connectionManager?.getConnections === 'function' &&
    typeof s.components.events?.addEventListener === 'function' && typeof s.stopHop === 'function'
}

function isCircuit (c: Connection): boolean {
  return c.remoteAddr.getComponents().some(x => x.name === 'p2p-circuit')
}

/** Open first, then direct before relayed, then newest first. */
export function destinationOrder (conns: Connection[]): Connection[] {
  const rank = (c: Connection): number => (c.status === 'open' ? 0 : 2) + (isCircuit(c) ? 1 : 0)
  return [...conns].sort((a, b) => rank(a) - rank(b) || b.timeline.open - a.timeline.open)
}

/** Make the server's CONNECT pick a peer's newest open connection, and move to a newer one that opens while it waits. */
export function preferNewestDestination (service: RelayServerComponents): void {
  const components = service.components
  const stopHop = service.stopHop.bind(service)
  service.stopHop = async (args, options) => await stopOverNewest(stopHop, components.events, args, options)
  const manager = components.connectionManager
  const ordered: ConnectionLister = new Proxy(manager, {
    get (target, prop, receiver) {
      if (prop === 'getConnections') return (peer?: PeerId) => peer == null ? target.getConnections() : destinationOrder(target.getConnections(peer))
      const value: unknown = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
  // the server reads `this.components.connectionManager` on each CONNECT; the
  // components object is libp2p's shared one, so the view is the server's alone
  service.components = new Proxy(components, {
    get (target, prop, receiver) {
      if (prop === 'connectionManager') return ordered
      return Reflect.get(target, prop, receiver)
    }
  })
}

/**
 * The server's STOP step over `args.connection`, and over each newer direct
 * connection from the same peer that opens while no answer has come: the
 * first stream accepted wins, the others are aborted. Undefined when every
 * attempt failed and no newer connection came.
 */
async function stopOverNewest (
  stopHop: RelayServerComponents['stopHop'],
  events: ConnectionEvents,
  args: StopArgs,
  options: { signal?: AbortSignal }
): Promise<Stream | undefined> {
  const peer = args.connection.remotePeer
  return await new Promise<Stream | undefined>((resolve) => {
    const controllers: AbortController[] = []
    let pending = 0
    let done = false
    const finish = (stream: Stream | undefined): void => {
      if (done) return
      done = true
      events.removeEventListener('connection:open', onOpen)
      options.signal?.removeEventListener('abort', onAbort)
      for (const c of controllers) c.abort(new Error('another connection of the peer carries the circuit'))
      resolve(stream)
    }
    const attempt = (connection: Connection): void => {
      const ctl = new AbortController()
      controllers.push(ctl)
      pending++
      const signal = options.signal != null ? AbortSignal.any([options.signal, ctl.signal]) : ctl.signal
      stopHop({ ...args, connection }, { ...options, signal }).catch(() => undefined).then((stream) => {
        pending--
        if (done) { stream?.abort(new Error('another connection of the peer carries the circuit')); return }
        if (stream != null) finish(stream)
        else if (pending === 0) finish(undefined)
      }, () => {})
    }
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const c = evt.detail
      if (!done && c.remotePeer.equals(peer) && !isCircuit(c)) attempt(c)
    }
    const onAbort = (): void => { finish(undefined) }
    events.addEventListener('connection:open', onOpen)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    attempt(args.connection)
  })
}
