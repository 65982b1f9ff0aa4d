/**
 * Networks beam can carry tunnels over. `direct` is beam's own libp2p
 * networking; anonymizing networks plug in here as extra transports. Imports
 * no other beam folder.
 */
import { directBackend } from './direct.ts'
import { plannedBackends } from './planned.ts'
import { BackendRegistry } from './registry.ts'
import { torBackend } from './tor/index.ts'
import type { TorBackendOptions } from './tor/index.ts'
import { atorBackend } from './ator/index.ts'
import type { AtorBackendOptions } from './ator/index.ts'
import { i2pBackend } from './i2p/index.ts'
import type { I2pBackendOptions } from './i2p/index.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

import type { Backend, BackendAddress } from './backend.ts'

export type { Backend, BackendAddress, BackendAvailability, BackendFix, BackendContext, BackendLogger, BackendRole, BackendStatus, LogFn, TransportFactory } from './backend.ts'
export { BackendRegistry, BackendRegistryError } from './registry.ts'
export { BackendUnavailableError } from './backend.ts'
export { directBackend } from './direct.ts'
export { backendCarries, carriedBy } from './carries.ts'
export { plannedBackends } from './planned.ts'
export * from './tor/index.ts'
export * from './ator/index.ts'
export * from './i2p/index.ts'

/** Options of the backends that take any, by backend name. */
export interface DefaultBackendOptions {
  /** @default {} (the tor daemon at 127.0.0.1:9051 / 9050) */
  tor?: TorBackendOptions
  /** @default {} (the anon daemon at 127.0.0.1:9051 / 9050, binary from ANON_CANDIDATES) */
  ator?: AtorBackendOptions
  /** @default {} (the SAM bridge at 127.0.0.1:7656, transient destinations) */
  i2p?: I2pBackendOptions
}

/** A registry with every backend beam knows, ready or not. */
export function defaultBackends (options: DefaultBackendOptions = {}): BackendRegistry {
  // a real backend replaces its "planned" placeholder
  const real = [directBackend, torBackend(options.tor ?? {}), atorBackend(options.ator ?? {}), i2pBackend(options.i2p ?? {})]
  return new BackendRegistry([...real, ...plannedBackends.filter(p => !real.some(r => r.name === p.name))])
}

/** The backends beam ships, with default options, made once on first use. */
let shipped: Backend[] | undefined

/**
 * What the backend whose network `ma` belongs to says about it (see
 * {@link Backend.describeAddress}): the transport a `path` event names
 * ('tor', 'ator', 'i2p') and how the address reads for people. Undefined for
 * addresses no backend claims (beam's own TCP, QUIC, WebRTC, relays). Path
 * ranking and the CLI ask here instead of knowing address formats.
 *
 * @param backends - whom to ask, in order. @default the backends beam ships (direct, tor, ator, i2p)
 */
export function describeBackendAddress (ma: Multiaddr, backends: Backend[] = (shipped ??= defaultBackends().list())): BackendAddress | undefined {
  for (const b of backends) {
    const d = b.describeAddress?.(ma)
    if (d != null) return d
  }
  return undefined
}
