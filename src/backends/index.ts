/**
 * Networks beam can carry tunnels over. `direct` is beam's own libp2p
 * networking; anonymizing networks plug in here as extra transports. Imports
 * no other beam folder.
 */
import { directBackend } from './direct.ts'
import { plannedBackends } from './planned.ts'
import { BackendRegistry } from './registry.ts'

export type { Backend, BackendAvailability, BackendRole, BackendStatus } from './backend.ts'
export { BackendRegistry, BackendRegistryError } from './registry.ts'
export { directBackend } from './direct.ts'
export { plannedBackends } from './planned.ts'

/** A registry with every backend beam knows, ready or not. */
export function defaultBackends (): BackendRegistry {
  return new BackendRegistry([directBackend, ...plannedBackends])
}
