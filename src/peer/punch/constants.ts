/**
 * Defaults of the birthday hole punch (see docs/nat-traversal.md, "Hole
 * punching across one hard NAT", for the packet budget and the odds).
 */

/** UDP sockets the hard (symmetric) side opens, each towards the easy side's mapping. */
export const HARD_SOCKETS = 256

/** Probes per second the easy side sends to ports of the hard side's address. */
export const EASY_PROBE_RATE = 256

/** Probes the easy side sends at most in one attempt (8 s at EASY_PROBE_RATE). */
export const EASY_MAX_PROBES = 2048

/** How long one attempt may take on either side, in ms. */
export const PUNCH_TIMEOUT = 10_000

/** The hard side repeats its probe on every socket this often, in ms (a NAT may forget an unanswered mapping). */
export const HARD_RESEND_INTERVAL = 2_500

/** Largest step between two flows in a row for which a NAT counts as sequential (others share it meanwhile). */
export const MAX_SEQUENCE_STEP = 16

/** Ports a sequence hint may span: a wider gap is not a sequential NAT worth predicting. */
export const MAX_PREDICTION_WINDOW = 1024

/** Source ports a NAT hands out: Linux's default range for ports ≥ 1024, and most routers'. */
export const NAT_PORT_MIN = 1024
export const NAT_PORT_MAX = 65535

/** Acknowledgements sent on the winning pair (UDP is lossy), spaced by PUNCH_ACK_SPACING ms. */
export const PUNCH_ACKS = 3
export const PUNCH_ACK_SPACING = 20

/** Time to wait for a STUN answer, in ms, and requests per server. */
export const STUN_TIMEOUT = 500
export const STUN_ATTEMPTS = 3

/** How long a punched port waits for the WebRTC connection that binds it, in ms (a NAT keeps an idle UDP mapping ≥ 30 s). */
export const PUNCHED_PORT_TTL = 10_000

/** How long a node's STUN classification of its own NAT is reused, in ms. */
export const NAT_KIND_TTL = 5 * 60_000
