/**
 * `beam share` with no port: find the development server running on this
 * machine. The usual ports of the common dev servers are tried on loopback
 * (127.0.0.1 and ::1, since Node's `localhost` may be either); each that
 * accepts is asked `GET /` and named from its answer where it says what it
 * is. Only loopback is contacted.
 */
import { createConnection } from 'node:net'
import { UsageError } from './exit-codes.ts'
import { splitList, parsePort } from './parse.ts'

/** The usual ports, in the order they are reported, with who uses them by default. */
export const DEV_SERVER_PORTS: ReadonlyArray<{ port: number, usual: string }> = [
  { port: 5173, usual: 'Vite (and SvelteKit, Remix, Qwik on Vite)' },
  { port: 5174, usual: 'Vite, a second instance' },
  { port: 3000, usual: 'Next.js, Nuxt, Create React App, Remix, Rails, Express' },
  { port: 3001, usual: 'a second Next.js or React dev server' },
  { port: 4200, usual: 'Angular CLI' },
  { port: 4321, usual: 'Astro' },
  { port: 8080, usual: 'Vue CLI, webpack-dev-server, Eleventy' },
  { port: 8000, usual: 'Django, Gatsby, Deno, python -m http.server' },
  { port: 5000, usual: 'Flask' },
  { port: 4000, usual: 'Phoenix, Jekyll' },
  { port: 1313, usual: 'Hugo' },
  { port: 6006, usual: 'Storybook' },
  { port: 1234, usual: 'Parcel' }
]

/** How long one port may take to accept, and its page to answer, in ms. */
const PROBE_TIMEOUT = 800

/** Most bytes of a page read to recognise it. */
const MAX_PAGE = 64 * 1024

/** What the page or headers of a dev server say about it: the first match names it. */
const SIGNATURES: ReadonlyArray<{ name: string, test: (headers: Record<string, string | string[] | undefined>, body: string) => boolean }> = [
  { name: 'Vite', test: (_h, b) => b.includes('/@vite/client') },
  { name: 'Next.js', test: (h, b) => /next\.js/i.test(String(h['x-powered-by'] ?? '')) || b.includes('/_next/') || b.includes('__NEXT_DATA__') },
  { name: 'Nuxt', test: (_h, b) => b.includes('/_nuxt/') || b.includes('__NUXT__') },
  { name: 'Angular', test: (_h, b) => b.includes('ng-version') || /<app-root/i.test(b) },
  { name: 'Astro', test: (_h, b) => b.includes('/@astro') || /name="generator" content="Astro/i.test(b) },
  { name: 'webpack-dev-server', test: (_h, b) => b.includes('webpack-dev-server') || b.includes('/webpack-dev-server.js') },
  { name: 'Storybook', test: (_h, b) => /storybook/i.test(b) },
  { name: 'Express', test: (h) => /express/i.test(String(h['x-powered-by'] ?? '')) },
  { name: 'Django', test: (h, b) => /wsgiserver|django/i.test(String(h.server ?? '')) || b.includes('csrfmiddlewaretoken') },
  { name: 'Werkzeug (Flask)', test: (h) => /werkzeug/i.test(String(h.server ?? '')) },
  { name: 'Python http.server', test: (h) => /SimpleHTTP/i.test(String(h.server ?? '')) }
]

/** A dev server found on loopback. */
export interface FoundDevServer {
  /** The loopback address it answered on: 127.0.0.1 or ::1. */
  host: string
  port: number
  /** What its answer says it is, if it says. */
  name?: string
  /** Who uses this port by default. */
  usual: string
  /** Whether it answered HTTP. */
  http: boolean
}

async function accepts (host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const s = createConnection({ host, port })
    const done = (ok: boolean): void => { clearTimeout(timer); s.destroy(); resolve(ok) }
    const timer = setTimeout(() => { done(false) }, PROBE_TIMEOUT)
    s.once('connect', () => { done(true) })
    s.once('error', () => { done(false) })
  })
}

/** `GET /` on a port that accepts: its headers and the start of its body, or undefined when it does not speak HTTP. */
async function page (host: string, port: number): Promise<{ headers: Record<string, string | string[] | undefined>, body: string } | undefined> {
  return await new Promise(resolve => {
    const req = process.getBuiltinModule('node:http').request({ host, port, path: '/', method: 'GET', headers: { accept: 'text/html', host: `localhost:${port}` }, timeout: PROBE_TIMEOUT }, res => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        if (size < MAX_PAGE) chunks.push(c)
        size += c.length
        if (size >= MAX_PAGE) res.destroy()
      })
      const finish = (): void => { resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) }
      res.on('end', finish)
      res.on('close', finish)
    })
    req.on('timeout', () => { req.destroy() })
    req.on('error', () => { resolve(undefined) })
    req.end()
  })
}

/** The ports to try: `BEAM_DEV_PORTS` (comma-separated) or {@link DEV_SERVER_PORTS}. */
export function devServerPorts (env: NodeJS.ProcessEnv): Array<{ port: number, usual: string }> {
  const list = splitList(env.BEAM_DEV_PORTS)
  if (list.length === 0) return [...DEV_SERVER_PORTS]
  return list.map(p => {
    const port = parsePort(p, 'port in BEAM_DEV_PORTS')
    return { port, usual: DEV_SERVER_PORTS.find(d => d.port === port)?.usual ?? 'listed in BEAM_DEV_PORTS' }
  })
}

/** Every candidate port that accepts on loopback (127.0.0.1 first, else ::1), with what it says it is. */
export async function findDevServers (ports: Array<{ port: number, usual: string }>): Promise<FoundDevServer[]> {
  const found = await Promise.all(ports.map(async ({ port, usual }) => {
    const host = (await accepts('127.0.0.1', port)) ? '127.0.0.1' : (await accepts('::1', port)) ? '::1' : undefined
    if (host == null) return undefined
    const p = await page(host, port)
    const name = p != null ? SIGNATURES.find(s => s.test(p.headers, p.body))?.name : undefined
    const server: FoundDevServer = { host, port, usual, http: p != null, ...(name != null ? { name } : {}) }
    return server
  }))
  return found.filter((f): f is FoundDevServer => f != null)
}

/** One found server in a line: `127.0.0.1:5173 (Vite: its page loads /@vite/client)`. */
export function describeDevServer (f: FoundDevServer): string {
  const where = f.host.includes(':') ? `[${f.host}]:${f.port}` : `${f.host}:${f.port}`
  if (f.name != null) return `${where} (${f.name}, by its answer to GET /)`
  return `${where} (${f.http ? 'answers HTTP' : 'accepts TCP'}; the usual port of ${f.usual})`
}

/**
 * The one dev server to share, as a service argument (`5173`, `[::1]:5173`),
 * and why. Throws UsageError when none or several are found.
 */
export async function pickDevServer (env: NodeJS.ProcessEnv): Promise<{ service: string, why: string }> {
  const ports = devServerPorts(env)
  const found = await findDevServers(ports)
  if (found.length === 0) {
    throw new UsageError(`no port given, and no dev server answers on loopback at the usual ports (${ports.map(p => p.port).join(', ')}): give the port, e.g. beam share 3000`)
  }
  if (found.length > 1) {
    throw new UsageError(`no port given, and several servers answer on loopback: ${found.map(describeDevServer).join(', ')}; name the one to share, e.g. beam share ${found[0]?.port ?? ''}`)
  }
  const f = found[0] as FoundDevServer
  return {
    service: f.host === '::1' ? `[::1]:${f.port}` : String(f.port),
    why: `no port given: sharing ${describeDevServer(f)}, the only server answering on loopback at the usual dev ports (${ports.map(p => p.port).join(', ')})`
  }
}
