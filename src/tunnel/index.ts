/**
 * Local endpoints and the byte pipe. Knows nothing about peers, connect
 * strings or relays; imports no other beam folder.
 */
export { pipeSocketStream, DEFAULT_MAX_READ_BUFFER } from './pipe.ts'
export type { PipeResult, PipeOptions } from './pipe.ts'
export { listenTcp, connectTcp } from './tcp.ts'
export type { LocalListener, ConnectTcpOptions } from './tcp.ts'
export * from './errors.ts'
export { streamToDuplex } from './duplex.ts'
export { hostPort } from './host-port.ts'
export { atTurnEnd, inTurnEnd } from './turn-end.ts'
export type { AtTurnEndOptions } from './turn-end.ts'
