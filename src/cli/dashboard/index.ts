/**
 * The local web dashboard at /_beam: an HTTP server on 127.0.0.1 behind a
 * token, the page's static files, and where it reads what it shows (this
 * process, or every process of a home through their control sockets).
 */
export { startDashboard, DASHBOARD_PATH, STATIC_DIR, DEFAULT_DASHBOARD_INTERVAL, DEFAULT_DASHBOARD_HISTORY, DEFAULT_DASHBOARD_LOG_LINES, DEFAULT_DASHBOARD_CLIENTS } from './server.ts'
export type { Dashboard, DashboardInit } from './server.ts'
export { localSource, homeSource, LogCursor } from './source.ts'
export type { DashboardLogLine, DashboardProcess, DashboardReading, DashboardSource } from './source.ts'
export { checkRequest, cookieName, cookieValue, newDashboardToken, sameToken, allowedHosts, TOKEN_BYTES } from './guard.ts'
export type { Refusal } from './guard.ts'
