/** The public shapes of a gateway: its options and its events. */
import type { SecureContext } from 'node:tls'
import type { BeamNode, Logger } from '../peer/index.ts'
import type { Visitor } from './forward.ts'
import type { GatewayLimitOptions } from './limits.ts'
import type { NameStore } from './names.ts'
import type { PageKind } from './pages.ts'

/** A host and port to listen on. */
export interface ListenAddress {
  host: string
  port: number
}

/** Options of a {@link Gateway}. */
export interface GatewayOptions {
  /** The beam node that shares register with and that opens tunnels to them (started). */
  node: BeamNode
  /** The domain shares get names under: `<label>.<domain>`. Lowercase, at least two labels. */
  domain: string
  /** Where visitors connect: HTTPS (HTTP/2 and HTTP/1.1) when `tls` is set, else plain HTTP. */
  listen: ListenAddress
  /** A plain HTTP listener that redirects to HTTPS (with `tls`). @default unset */
  httpListen?: ListenAddress | undefined
  /**
   * HTTPS: the TLS context for each server name a visitor asks for (SNI),
   * e.g. one wildcard certificate from files, or ACME certificates issued on
   * demand; undefined refuses the handshake. @default unset (plain HTTP)
   */
  tls?: { context: (servername: string) => Promise<SecureContext | undefined> } | undefined
  /** The key authorization of an ACME HTTP-01 challenge token, served on the plain HTTP listener. @default unset */
  acmeChallenge?: ((token: string) => string | undefined) | undefined
  /** The port visitors use in URLs (a gateway behind port forwarding). @default the listen port */
  publicPort?: number | undefined
  /** Short names: where claims are kept and for how long an idle share keeps its name. @default in memory, 30 days */
  names?: NameStore | undefined
  /** Only these share peer ids may register. @default unset (any share) */
  allow?: string[] | undefined
  /** Per-share request rate, bandwidth and visitors in flight. @default 100 requests/s, no bandwidth limit, 256 in flight */
  limits?: GatewayLimitOptions | undefined
  /** How long a share has to answer when the gateway opens a tunnel for a visitor, in ms. @default 10000 */
  handshakeTimeout?: number | undefined
  /** The gateway's logger (component `gateway` is added). @default silent */
  logger?: Logger | undefined
}

/** {@link GatewayEvents} `request`: one visitor request finished (the access log's line). */
export interface GatewayRequestEvent {
  /** The host asked for. */
  host: string
  /** The share's peer id, when the host named one. */
  share?: string
  method: string
  path: string
  status: number
  /** What answered: the share, or a gateway page of this kind. */
  kind: 'share' | PageKind
  /** Visitor's address. */
  visitor: string
  bytesIn: number
  bytesOut: number
  ms: number
  /** HTTP version the visitor spoke. */
  httpVersion: string
}

/** Events of a {@link Gateway}. */
export interface GatewayEvents {
  /** A share registered (or came back). */
  registered: [{ peerId: string, label: string, name?: string }]
  /** A share's registration stream closed: it is offline. */
  unregistered: [{ peerId: string }]
  /** A visitor request ended. */
  request: [GatewayRequestEvent]
}
