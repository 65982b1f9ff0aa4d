/** Relayed connections a node accepts at once (STOP streams, inbound). */
export const DEFAULT_MAX_INBOUND_RELAYED = 1024

/** Relayed connections a node opens at once (STOP streams, outbound). */
export const DEFAULT_MAX_OUTBOUND_RELAYED = 1024

/** A relay reservation must complete within this many ms. */
export const DEFAULT_RESERVATION_TIMEOUT = 10_000

/** Reservations a beam relay accepts at once (library default: 15). */
export const DEFAULT_MAX_RESERVATIONS = 1024

/** Relayed connections a beam relay carries at once. */
export const DEFAULT_MAX_RELAYED_CONNECTIONS = 1024

/** Reservation lifetime before renewal, in ms (library default: 2 h). */
export const DEFAULT_RESERVATION_TTL = 3_600_000

/** Stand-in for "no duration limit" (about 24.8 days, the largest timer Node allows). */
export const UNLIMITED_DURATION_MS = 2_147_483_647

/** Stand-in for "no data limit" (2^53 - 1 bytes). */
export const UNLIMITED_DATA_BYTES = Number.MAX_SAFE_INTEGER

/** UDP port of a relay's STUN responder unless configured. */
export const DEFAULT_STUN_PORT = 3478

/** Relay reservations a share keeps when relays are known. */
export const DEFAULT_SHARE_RESERVATIONS = 2

/** circuit relay v2 protocol ids. */
export const HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'
export const STOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/stop'

/** Relayed connections one peer may open through a beam relay at once. */
export const DEFAULT_MAX_CIRCUITS_PER_PEER = 64
