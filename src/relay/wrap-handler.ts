import type { Connection, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'

/** The part of libp2p's internals {@link wrapHandler} reads. */
interface WithRegistrar {
  components?: { registrar?: { getHandler: (protocol: string) => { handler: StreamHandler, options: StreamHandlerOptions } } }
}

/** The public libp2p method {@link wrapHandler} uses. */
export interface HandlerHost {
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
}

/** Runs around a protocol's handler: may watch the stream, refuse it, or call through. */
export type HandlerWrapper = (stream: Stream, connection: Connection, handler: StreamHandler) => Promise<void>

/**
 * Replace the handler a libp2p service registered for `protocol` with
 * `wrapper` around it (same options). Used on relay nodes to account and
 * police circuit-relay HOP streams. The registered handler is read through
 * libp2p's registrar (the public API has no getter); libp2p 3.3's stream
 * middleware is no alternative: on inbound streams it pushes the handler into
 * the registered middleware array, so every later stream runs it again.
 * Returns false if no handler is registered. Wrappers stack in call order.
 */
export async function wrapHandler (libp2p: HandlerHost, protocol: string, wrapper: HandlerWrapper): Promise<boolean> {
  const registrar = (libp2p as unknown as WithRegistrar).components?.registrar
  let current: { handler: StreamHandler, options: StreamHandlerOptions } | undefined
  try {
    current = registrar?.getHandler(protocol)
  } catch {
    current = undefined
  }
  if (current == null) return false
  const { handler, options } = current
  await libp2p.handle(protocol, async (stream, connection) => { await wrapper(stream, connection, handler) }, { ...options, force: true })
  return true
}
