/**
 * For tests of dials between beam nodes on this one machine: an address of
 * the machine that is not loopback, and the transports a node has built.
 */
import { networkInterfaces } from 'node:os'
import type { BeamNode } from 'beam'

/** A non-loopback IPv4 address of this machine, or undefined when it has none (traffic to it never leaves the host). */
export const lanIp: string | undefined = Object.values(networkInterfaces()).flat().find(a => a != null && a.family === 'IPv4' && !a.internal)?.address

/** The transports libp2p holds (read through its components: no public accessor). */
export function transports (n: BeamNode): Array<{ [Symbol.toStringTag]: string, loaded?: boolean }> {
  const tm = (n.libp2p as unknown as { components: { transportManager: { getTransports: () => Array<{ [Symbol.toStringTag]: string, loaded?: boolean }> } } }).components.transportManager
  return tm.getTransports()
}
