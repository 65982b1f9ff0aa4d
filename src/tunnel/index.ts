/**
 * Local endpoints and the byte pipe. Knows nothing about peers, connect
 * strings or relays; imports no other beam folder.
 */
export { pipeSocketStream, resetSocket, DEFAULT_MAX_READ_BUFFER } from './pipe.ts'
export type { PipeResult, PipeOptions } from './pipe.ts'
export { listenTcp, connectTcp } from './tcp.ts'
export type { LocalListener, ConnectTcpOptions } from './tcp.ts'
export { listenUnix, connectUnix } from './unix.ts'
export { pipeStreamIo } from './io-pipe.ts'
export type { IoPipeOptions } from './io-pipe.ts'
export * from './errors.ts'
export { streamToDuplex } from './duplex.ts'
export { ReadPauser } from './read-pauser.ts'
export type { PausableStream } from './read-pauser.ts'
export { DatagramStream, MAX_DATAGRAM, DEFAULT_DATAGRAM_IDLE_TIMEOUT } from './datagram.ts'
export type { DatagramResult, DatagramStreamOptions } from './datagram.ts'
export { bindUdp, connectUdp } from './udp.ts'
export type { UdpEndpoint } from './udp.ts'
export { hostPort } from './host-port.ts'
export { atTurnEnd, inTurnEnd } from './turn-end.ts'
export type { AtTurnEndOptions } from './turn-end.ts'
