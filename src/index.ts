/**
 * beam: peer-to-peer TCP tunnels addressed by public key.
 *
 * @example
 * ```ts
 * import { createBeam, newAccessSecret } from 'beam'
 *
 * const sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
 * const secret = newAccessSecret()
 * await sharer.share({ services: [{ port: 3000 }], access: { mode: 'secret', secret } })
 *
 * const connector = await createBeam()
 * const tunnel = await connector.connect(sharer.connectString(secret), { signal: AbortSignal.timeout(10_000) })
 * console.log(`service reachable at ${tunnel.host}:${tunnel.port}`)
 * ```
 *
 * @packageDocumentation
 */
export * from './peer/index.ts'
export { ACCESS_SECRET_LENGTH, TUNNEL_PROTOCOL, TunnelStatus, HandshakeError, UnsupportedVersionError } from './signaling/index.ts'
export { AddressInUseError, ListenError, LocalServiceUnreachableError, TunnelTruncatedError } from './tunnel/index.ts'
export type { PipeResult } from './tunnel/index.ts'
export { BackendRegistry, BackendRegistryError, defaultBackends, directBackend, torBackend, atorBackend, ANON_PROTOCOL, ANON_LISTEN_PROTOCOL, generateClientAuthKeys, BackendUnavailableError, DEFAULT_ONION_PORT, ONION_LISTEN_PROTOCOL, TorControl, SocksError, TorAuthError, TorCommandError, TorConfigError, TorControlError, TorLaunchError } from './backends/index.ts'
export type { Backend, BackendAddress, BackendAvailability, BackendFix, BackendContext, BackendLogger, LogFn, BackendRole, BackendStatus, DefaultBackendOptions, ClientAuthKeys, AddOnionOptions, ControlReply, ProtocolInfo, TorControlOptions, TorBackendOptions, TorLaunchConfig, AtorBackendOptions, OnionNetworkProfile } from './backends/index.ts'
export { i2pBackend, DEFAULT_SAM, b32Of, I2pAddressError, I2pStreamCutError, SamAbortError, SamProtocolError, SamTimeoutError, SamUnreachableError } from './backends/index.ts'
export type { I2pBackendOptions, TunnelOptions } from './backends/index.ts'
export { RelayLimitError, resolveRelayLimits, DEFAULT_STUN_PORT } from './relay/index.ts'
export type { RelayLimits } from './relay/index.ts'
export type { ResolvedRelayLimits } from './relay/index.ts'
