/**
 * The gateway's own answers to visitors: a short HTML page per kind of
 * failure. A page names only the host the visitor asked for, never another
 * share, a peer id, an address or an internal error text.
 */

/** Kinds of gateway answers (also the `kind` label of the error metric). */
export type PageKind = 'unknown-name' | 'offline' | 'refused' | 'service-unavailable' | 'bad-answer' | 'limit' | 'overloaded' | 'timeout' | 'bad-request' | 'unauthorized'

const PAGES: Record<PageKind, { status: number, title: string, text: string }> = {
  'unknown-name': { status: 404, title: 'No such share', text: 'No share answers to this name on this gateway.' },
  offline: { status: 502, title: 'Share offline', text: 'The share behind this address is not connected to the gateway right now. Try again later.' },
  refused: { status: 502, title: 'Share refused', text: 'The share behind this address did not accept the gateway\'s request.' },
  'service-unavailable': { status: 502, title: 'Service unavailable', text: 'The share is online, but the service it shares did not accept the connection.' },
  'bad-answer': { status: 502, title: 'Bad answer', text: 'The service behind this address sent an answer the gateway could not read as HTTP/1.1.' },
  limit: { status: 429, title: 'Too many requests', text: 'This share has reached a limit the gateway sets (requests, bandwidth or visitors). Try again shortly.' },
  overloaded: { status: 503, title: 'Share busy', text: 'The share has as many connections open as it allows. Try again shortly.' },
  timeout: { status: 504, title: 'Share too slow', text: 'The share did not answer in time.' },
  'bad-request': { status: 400, title: 'Bad request', text: 'The gateway could not read this request.' },
  unauthorized: { status: 401, title: 'Sign in', text: 'This share asks visitors to sign in.' }
}

/** The status code of a kind of page. */
export function pageStatus (kind: PageKind): number {
  return PAGES[kind].status
}

const escape = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

/** The HTML page of a kind, naming the host asked for. */
export function errorPage (kind: PageKind, host: string): string {
  const p = PAGES[kind]
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${p.status} ${p.title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}code{background:#eee;padding:0 .2em}</style></head>
<body><h1>${p.status} ${p.title}</h1><p>${p.text}</p><p><code>${escape(host.slice(0, 253))}</code> &middot; beam gateway</p></body></html>
`
}
