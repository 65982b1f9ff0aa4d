/**
 * Circuit-relay policy: how a beam node uses relays (and, with `beam relay`,
 * how it runs one). Imports no other beam folder.
 */
export { relayTransport } from './client.ts'
export type { RelayClientInit } from './client.ts'
export * from './constants.ts'
export { relayServer, relayServerOptions, resolveRelayLimits } from './server.ts'
export type { RelayLimits, ResolvedRelayLimits } from './server.ts'
export { startStunServer, parseBindingRequest, bindingResponse, STUN_MAGIC } from './stun.ts'
export type { StunServer, StunServerInit, BindingRequest } from './stun.ts'
export * from './errors.ts'
export { startMetricsServer, renderMetrics } from './metrics.ts'
export type { MetricSample, MetricsServer } from './metrics.ts'
export { RelayAccounting, parseHopHeader, RELAY_STATUS } from './accounting.ts'
export type { RelayCounters, HopHeader } from './accounting.ts'
export { PeerCaps } from './peer-caps.ts'
export { wrapHandler } from './wrap-handler.ts'
export type { HandlerHost, HandlerWrapper } from './wrap-handler.ts'
