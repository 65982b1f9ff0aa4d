/**
 * Circuit-relay policy: how a beam node uses relays (and, with `beam relay`,
 * how it runs one). Imports no other beam folder.
 */
export { relayTransport } from './client.ts'
export type { RelayClientInit } from './client.ts'
export * from './constants.ts'
