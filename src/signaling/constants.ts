/** The tunnel protocol id. The major version changes only with an incompatible wire change. */
export const TUNNEL_PROTOCOL = '/beam/tunnel/1.0.0'

/** Version byte carried in every handshake message of protocol 1.x. */
export const HANDSHAKE_VERSION = 1

/** How long a share waits for the request once a stream is open, in ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

/** Upper bound of a handshake message (request or response), in bytes. */
export const MAX_HANDSHAKE_MESSAGE = 1024

/** Longest reason text a response carries, in bytes of UTF-8. */
export const MAX_REASON_LENGTH = 512

/**
 * Length of a share's access secret, in bytes: the key of the access proof,
 * and what a connect string may carry. The one definition; peer/ imports it.
 */
export const ACCESS_SECRET_LENGTH = 32

/** Length of the HMAC-SHA256 proof that the connector holds the access secret. */
export const PROOF_LENGTH = 32

/** Domain-separation label mixed into the access proof. */
export const PROOF_LABEL = 'beam/tunnel/1 access proof'

/** Request flag: only check access and port, do not open the shared service. */
export const FLAG_PROBE = 0x01

/**
 * Request flag: a datagram tunnel (UDP). The stream then carries datagrams,
 * each framed as `length u16be | payload`, and the port names a UDP service.
 * A share that does not know the flag answers BAD_REQUEST.
 */
export const FLAG_UDP = 0x02
