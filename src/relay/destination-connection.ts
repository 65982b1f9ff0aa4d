import type { Connection, PeerId } from '@libp2p/interface'

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
 * reservation came over). Retire this when the server picks the connection
 * its reservation was made on.
 */

/** The part of the connection manager this patch reorders. */
interface ConnectionLister {
  getConnections: (peer?: PeerId) => Connection[]
}

/** The part of circuit-relay-v2's server this patch uses. */
export interface RelayServerComponents {
  components: { connectionManager: ConnectionLister }
}

/** Whether `service` looks like the circuit-relay-v2 server this patch knows. */
export function hasRelayComponents (service: unknown): service is RelayServerComponents {
  const components = (service as { components?: { connectionManager?: { getConnections?: unknown } } } | undefined)?.components
  return typeof components?.connectionManager?.getConnections === 'function'
}

/** Open first, then direct before relayed, then newest first. */
export function destinationOrder (conns: Connection[]): Connection[] {
  const rank = (c: Connection): number => (c.status === 'open' ? 0 : 2) + (c.remoteAddr.getComponents().some(x => x.name === 'p2p-circuit') ? 1 : 0)
  return [...conns].sort((a, b) => rank(a) - rank(b) || b.timeline.open - a.timeline.open)
}

/** Make the server's CONNECT pick a peer's newest open connection. */
export function preferNewestDestination (service: RelayServerComponents): void {
  const components = service.components
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
