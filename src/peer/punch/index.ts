/**
 * UDP hole punching across one hard (symmetric) NAT, the birthday method:
 * the hard side holds many mappings towards the easy side's one, the easy
 * side probes ports of the hard side's address until one matches. Sequential
 * NATs are predicted first. Coordination (who is which side, the token, the
 * mappings) runs over the relayed connection: signaling's /beam/punch/1.0.0.
 */
export * from './constants.ts'
export { HolePunchError } from './errors.ts'
export { PUNCH_TOKEN_LENGTH, PUNCH_PACKET_LENGTH, PunchKind, encodePunchPacket, decodePunchPacket } from './packet.ts'
export { birthdaySuccess, probesFor, predictedPorts, probeOrder } from './birthday.ts'
export type { SequenceHint } from './birthday.ts'
export { bindUdp, stunMapping, closeQuietly } from './socket.ts'
export type { Endpoint } from './socket.ts'
export { startHardPunch } from './hard.ts'
export type { HardPunch, HardPunchInit, PunchResult } from './hard.ts'
export { easyPunch } from './easy.ts'
export type { EasyPunchInit } from './easy.ts'
export { initiatePunch, answerPunch, PunchRefusedError } from './session.ts'
export type { PunchSessionInit } from './session.ts'
export { PunchedPorts } from './port-slot.ts'
export { PunchContext, ownNatOf } from './context.ts'
export type { OwnNat, PunchContextInit } from './context.ts'
