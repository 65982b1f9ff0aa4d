import { PUNCHED_PORT_TTL } from './constants.ts'

/**
 * The punched local UDP port the node's next WebRTC connection binds its ICE
 * agent to (the transport's rtcConfiguration takes it). A punch offers it
 * once both sides hold a working pair; the next WebRTC connection takes it,
 * once; unclaimed, it expires (the NAT mapping behind it does too).
 */
export class PunchedPorts {
  private port: number | undefined
  private until = 0

  /** Offer `port` to the next WebRTC connection for `ttl` ms. @default PUNCHED_PORT_TTL */
  offer (port: number, ttl: number = PUNCHED_PORT_TTL): void {
    this.port = port
    this.until = performance.now() + ttl
  }

  /** The port offered and not taken nor expired, once; else undefined. */
  take (): number | undefined {
    const port = this.port
    this.port = undefined
    return port != null && performance.now() <= this.until ? port : undefined
  }
}
