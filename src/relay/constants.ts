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

/**
 * Reservations held through connections from one IP address. A beam share
 * takes one slot per relay, so 8 is a household or office of shares behind
 * one NAT; go-libp2p's relay uses the same number.
 */
export const DEFAULT_MAX_RESERVATIONS_PER_IP = 8

/** Reservations held from one IPv4 /24 or IPv6 /48: four full IPs' worth. */
export const DEFAULT_MAX_RESERVATIONS_PER_SUBNET = 32

/**
 * Relayed connections opened from one IP address at once: the per-peer cap,
 * so that one connecting host is held to what one peer may open, however
 * many peer ids it makes.
 */
export const DEFAULT_MAX_CIRCUITS_PER_IP = 64

/** Relayed connections opened from one IPv4 /24 or IPv6 /48 at once. */
export const DEFAULT_MAX_CIRCUITS_PER_SUBNET = 128

/**
 * How long a reservation outlives its holder's last connection to the relay,
 * in ms. libp2p's reconnect queue retries a dropped peer at 1, 2, 4, 8 and
 * 16 s (31 s plus dial time); a NAT that dropped its mapping had the holder
 * back in ~13 s in the NAT lab; a restarted share is back in a few seconds.
 */
export const DEFAULT_RESERVATION_GRACE = 60_000
