/**
 * I2P backend: libp2p over I2P streaming through the SAM v3 bridge of an I2P
 * router (i2pd or Java I2P). See docs/backends.md#i2p.
 */
import { accessSync, constants } from 'node:fs'
import { TRANSIENT_DESTINATION } from './destination.ts'
import { readKeyFile } from './key-file.ts'
import { resolveOptions } from './options.ts'
import type { I2pBackendOptions } from './options.ts'
import { SamSocket, redact } from './sam-socket.ts'
import { i2p } from './transport.ts'
import { describeI2pAddress, I2P_PROTOCOLS } from './multiaddr.ts'
import type { Backend, BackendAvailability, BackendContext } from '../backend.ts'

export { i2p, I2pTransport } from './transport.ts'
export type { I2pTransportComponents } from './transport.ts'
export { DEFAULT_SAM, parseSamAddress } from './options.ts'
export type { I2pBackendOptions } from './options.ts'
export type { TunnelOptions } from './sam-session.ts'
export { SamSession, generateDestination } from './sam-session.ts'
export { b32Of, publicOfPrivate, TRANSIENT_DESTINATION } from './destination.ts'
export { describeI2pAddress } from './multiaddr.ts'
export { I2pAddressError, I2pStreamCutError, SamAbortError, SamProtocolError, SamTimeoutError, SamUnreachableError } from './errors.ts'

/** Where i2pd is usually installed. */
const I2PD_PATHS = ['/usr/sbin/i2pd', '/usr/bin/i2pd', '/usr/local/sbin/i2pd', '/usr/local/bin/i2pd']
/** Bound for the availability check. */
const AVAILABLE_TIMEOUT = 3000

function i2pdInstalled (): boolean {
  return I2PD_PATHS.some(p => {
    try {
      accessSync(p, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Whether a SAM v3 bridge answers HELLO at the configured address. */
async function checkSam (options: I2pBackendOptions, signal?: AbortSignal): Promise<BackendAvailability> {
  const o = resolveOptions(options)
  const where = `${o.sam.host}:${o.sam.port}`
  try {
    const s = await SamSocket.open(o.sam, { signal, timeoutMs: AVAILABLE_TIMEOUT })
    s.destroy()
    return { status: 'ready' }
  } catch (err) {
    const e = err as Error
    if (e.name === 'SamUnreachableError') {
      return i2pdInstalled()
        ? { status: 'not-running', reason: `no SAM bridge at ${where}: start i2pd with SAM enabled (i2pd is installed)` }
        : { status: 'not-installed', reason: `no I2P router: i2pd is not installed and nothing answers SAM at ${where}` }
    }
    return { status: 'not-running', reason: `SAM bridge at ${where} unusable: ${redact(e.message)}` }
  }
}

/**
 * The I2P backend: shares get an I2P destination (`/garlic64/…`, also
 * reachable as `<b32>.b32.i2p`), connectors dial through their own transient
 * destination.
 */
export function i2pBackend (options: I2pBackendOptions = {}): Backend {
  // validate early: a bad SAM address or tunnel length is a configuration error
  resolveOptions(options)
  return {
    name: 'i2p',
    description: 'I2P through the SAM v3 bridge of an I2P router (i2pd)',
    role: 'both',
    addressProtocols: [...I2P_PROTOCOLS],
    describeAddress: describeI2pAddress,
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    available: async (opts = {}) => await checkSam(options, opts.signal),
    transport: (context: BackendContext) => i2p({ ...options, log: options.log ?? context.log }),
    listenAddrs: () => {
      const key = options.keyFile != null ? readKeyFile(options.keyFile) : undefined
      return [`/garlic64/${key?.destination ?? TRANSIENT_DESTINATION}`]
    }
  }
}
