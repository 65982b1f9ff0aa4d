import { lpStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'
import { MAX_HANDSHAKE_MESSAGE } from './constants.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './handshake.ts'
import type { TunnelRequest, TunnelResponse } from './handshake.ts'

/**
 * Connector side: send the request, wait for the response. On return the
 * stream is handed back unwrapped, with any bytes that arrived after the
 * response pushed back onto it, ready for the raw byte pipe.
 */
export async function sendTunnelRequest (stream: Stream, req: TunnelRequest, options: SendTunnelRequestOptions = {}): Promise<{ response: TunnelResponse, stream: Stream }> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  const written = lp.write(encodeRequest(req), options)
  // in the same turn as the request: the muxer sends both in one flush
  if (options.early != null && options.early.byteLength > 0) stream.send(options.early)
  await written
  const msg = await lp.read(options)
  const response = decodeResponse(msg.subarray())
  return { response, stream: lp.unwrap() }
}

/** Options of {@link sendTunnelRequest}. */
export interface SendTunnelRequestOptions extends AbortOptions {
  /**
   * The local side's first bytes, sent right behind the request instead of
   * after the response. The share reads them as the tunnel's first data once
   * it has accepted (and drops them with the stream when it refuses), so a
   * client that speaks first (HTTP, TLS, SSH) gets its answer a round trip
   * sooner. @default none
   */
  early?: Uint8Array
}

/** Share side of one incoming tunnel stream, between request and response. */
export interface IncomingTunnel {
  request: TunnelRequest
  /** Send the response; after an OK response use {@link IncomingTunnel.unwrap}. */
  respond: (res: TunnelResponse, options?: AbortOptions) => Promise<void>
  /** The raw stream, with any early bytes of the connector pushed back. */
  unwrap: () => Stream
}

/** Share side: read and decode the request of a fresh tunnel stream. */
export async function readTunnelRequest (stream: Stream, options: AbortOptions = {}): Promise<IncomingTunnel> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  const msg = await lp.read(options)
  const request = decodeRequest(msg.subarray())
  return {
    request,
    respond: async (res, opts) => { await lp.write(encodeResponse(res), opts ?? options) },
    unwrap: () => lp.unwrap()
  }
}
