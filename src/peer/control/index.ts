/**
 * The local control plane: a process's control socket (status, recent log
 * lines, stop), the client that talks to it, and the status model that
 * `beam status` and a dashboard show.
 */
export { LogRing, DEFAULT_LOG_RING_LINES, DEFAULT_LOG_RING_CHARS, DEFAULT_LOG_LINE_CHARS } from './log-ring.ts'
export type { LogEntry, LogRingInit } from './log-ring.ts'
export { StatusTracker, DEFAULT_STATUS_PEERS } from './status.ts'
export type { ProcessInfo, ProcessStatus, StatusTrackerInit, TunnelPath, TunnelSummary } from './status.ts'
export { VisitorStats, validBatch } from './visitors.ts'
export type { GatewayStatus, StatusClassCounts, VisitorBatch, VisitorLatency } from './visitors.ts'
export { CONTROL_PROTOCOL, MAX_CONTROL_LINE, LineSplitter } from './protocol.ts'
export type { ControlTransport, ConnectAnswer, ConnectOp, ControlEnvelope, ControlLogLine, ControlOp, ControlRequest, ControlResponse, ErrorAnswer, LogsAnswer, LogsOp, StatusAnswer, StatusOp, StopAnswer, StopOp } from './protocol.ts'
export { startControlServer, DEFAULT_CONTROL_CLIENTS, DEFAULT_CONTROL_REQUEST_TIMEOUT } from './server.ts'
export type { ControlServer, ControlServerInit } from './server.ts'
export { checkControlSocket, controlRequest, controlSocketName, listControlSockets, probeSocket, DEFAULT_CONTROL_TIMEOUT } from './client.ts'
export type { ControlRequestOptions, ControlSocketEntry } from './client.ts'
export { ControlListenError, ControlProtocolError, ControlSocketUnsafeError, ControlTokenRefusedError, ProcessGoneError } from './errors.ts'
export { controlTokenFileName, readControlTokenFile } from './token-file.ts'
export type { ControlTokenFile } from './token-file.ts'
