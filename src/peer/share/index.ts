/** Serving tunnels: a share accepts tunnel streams, checks access, bounds what each peer holds, and pipes streams to local services. */
export { Share } from './share.ts'
export type { ShareOptions, ShareEvents, ServiceTarget, SharedService, AccessPolicy, TunnelOpenEvent, TunnelCloseEvent, LiveTunnel, RefusedEvent, ServiceUnavailableEvent } from './share.ts'
export type { ShareLimitOptions } from './share-limits.ts'
