/** Relayed connections a node accepts at once (STOP streams, inbound). */
export const DEFAULT_MAX_INBOUND_RELAYED = 1024

/** Relayed connections a node opens at once (STOP streams, outbound). */
export const DEFAULT_MAX_OUTBOUND_RELAYED = 1024

/** A relay reservation must complete within this many ms. */
export const DEFAULT_RESERVATION_TIMEOUT = 10_000
