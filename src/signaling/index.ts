/**
 * The tunnel control plane between two beam peers: the `/beam/tunnel/1.0.0`
 * protocol id, its handshake messages and the access proof, and the
 * `/beam/reverse/1.0.0` request to be dialled back (connection reversal), and the
 * `/beam/punch/1.0.0` coordination of a UDP hole punch. WebRTC's own SDP
 * signalling is done by @libp2p/webrtc; this folder is only beam's.
 * Imports no other beam folder.
 */
export * from './constants.ts'
export * from './errors.ts'
export { TunnelStatus, statusName, encodeRequest, decodeRequest, encodeResponse, decodeResponse, accessProof, verifyAccessProof } from './handshake.ts'
export type { TunnelRequest, TunnelResponse } from './handshake.ts'
export { AccessProofCache, DEFAULT_PROOF_CACHE_SIZE } from './proof-cache.ts'
export { sendTunnelRequest, readTunnelRequest } from './exchange.ts'
export type { IncomingTunnel } from './exchange.ts'
export { REVERSAL_PROTOCOL, MAX_REVERSAL_ADDRESSES, MAX_REVERSAL_ADDRESS_LENGTH, ReversalStatus, reversalStatusName, encodeReversalRequest, decodeReversalRequest, encodeReversalResponse, decodeReversalResponse, sendReversalRequest, readReversalRequest, isDialBackAddress } from './reversal.ts'
export type { ReversalRequest, ReversalResponse, IncomingReversal } from './reversal.ts'
export { PUNCH_PROTOCOL, PUNCH_TOKEN_BYTES, PunchNat, PunchStatus, encodePunchMessage, decodePunchMessage, punchRoles, isPunchTarget } from './punch.ts'
export type { PunchEndpoint, PunchOffer, PunchAnswer, PunchGo, PunchDone, PunchMessage } from './punch.ts'
