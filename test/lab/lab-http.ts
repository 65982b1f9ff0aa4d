/**
 * HTTP ends for NAT lab tests, run inside a lab namespace with
 * `node test/lab/lab-http.ts …` (the test process cannot reach a namespace's
 * loopback). One JSON line per result on stdout.
 *
 *   serve                      the test HTTP service of test/helpers/services.ts on
 *                              127.0.0.1 (GET /download?mib=N&seed=S, POST /upload);
 *                              prints {"event":"ready","port":P}
 *   get <port> <path>          GET http://127.0.0.1:<port><path>; prints
 *                              {"event":"done","status","sha256","bytes","ttfbMs","ms"}
 *                              or {"event":"error","message"} (with "bytes" and "ms" when the
 *                              response broke off)
 *   get-stdin <path>           as `get`, with the port read from the first line of stdin:
 *                              start the process early, write the port the moment it is
 *                              known, and the request leaves within milliseconds
 *   upload <port> <seed> <mib> POST N MiB of seeded bytes to /upload; prints the
 *                              service's answer {"event":"done","sha256","bytes","ms"}
 *   echo                       a TCP echo service on 127.0.0.1; prints {"event":"ready","port":P}
 *   session <port> <seconds> <everyMs> <kib>
 *                              one TCP connection held open for <seconds>: every <everyMs>
 *                              sends <kib> KiB of random bytes and checks the echo; prints
 *                              {"event":"done","rounds","bytes","ms"} or
 *                              {"event":"error","message","rounds","bytes","ms"} when the
 *                              connection breaks or an echo differs
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { createServer, connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { block, startHttpService } from '../helpers/services.ts'

export const LAB_HTTP = fileURLToPath(import.meta.url)

const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

async function get (port: number, path: string): Promise<void> {
  const start = performance.now()
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const h = createHash('sha256')
      let bytes = 0
      let ttfb: number | undefined
      res.on('data', (c: Buffer) => {
        ttfb ??= performance.now() - start
        h.update(c)
        bytes += c.length
      })
      res.on('end', () => {
        print({ event: 'done', status: res.statusCode, sha256: h.digest('hex'), bytes, ttfbMs: Math.round(ttfb ?? 0), ms: Math.round(performance.now() - start) })
        resolve()
      })
      res.on('error', (err) => { print({ event: 'error', message: err.message, bytes, ms: Math.round(performance.now() - start) }); resolve() })
    })
    req.on('error', (err) => { print({ event: 'error', message: err.message }); resolve() })
    req.end()
  })
}

async function upload (port: number, seed: number, mib: number): Promise<void> {
  const start = performance.now()
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, headers: { 'content-length': String(mib * 1024 * 1024) } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => { body += s })
      res.on('end', () => {
        try {
          print({ event: 'done', ...(JSON.parse(body) as Record<string, unknown>), ms: Math.round(performance.now() - start) })
        } catch { print({ event: 'error', message: `bad answer: ${body.slice(0, 200)}` }) }
        resolve()
      })
    })
    req.on('error', (err) => { print({ event: 'error', message: err.message }); resolve() })
    let i = 0
    const more = (): void => {
      while (i < mib) if (!req.write(block(seed, i++))) { req.once('drain', more); return }
      req.end()
    }
    more()
  })
}

async function echo (): Promise<void> {
  const server = createServer((s) => { s.on('error', () => {}); s.pipe(s) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  print({ event: 'ready', port: typeof addr === 'object' && addr != null ? addr.port : 0 })
  process.on('SIGTERM', () => { server.close(); process.exit(0) })
}

async function session (port: number, seconds: number, everyMs: number, kib: number): Promise<void> {
  const start = performance.now()
  let rounds = 0
  let bytes = 0
  const sock = connect(port, '127.0.0.1')
  let pending = Buffer.alloc(0)
  let want: Buffer | undefined
  let onData: (() => void) | undefined
  let broken: string | undefined
  sock.on('data', (c: Buffer) => { pending = Buffer.concat([pending, c]); onData?.() })
  sock.on('error', (e) => { broken = e.message; onData?.() })
  sock.on('close', () => { broken ??= 'connection closed'; onData?.() })
  const fail = (message: string): void => {
    print({ event: 'error', message, rounds, bytes, ms: Math.round(performance.now() - start) })
    sock.destroy()
  }
  while (performance.now() - start < seconds * 1000) {
    want = randomBytes(kib * 1024)
    sock.write(want)
    const got = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => { onData = undefined; resolve(false) }, 30_000)
      onData = () => {
        if (broken != null || (want != null && pending.length >= want.length)) {
          clearTimeout(t)
          onData = undefined
          resolve(broken == null)
        }
      }
      onData()
    })
    if (!got) { fail(broken ?? 'no echo within 30 s'); return }
    if (!pending.subarray(0, want.length).equals(want)) { fail('echo differs'); return }
    pending = pending.subarray(want.length)
    rounds++
    bytes += want.length
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  sock.end()
  print({ event: 'done', rounds, bytes, ms: Math.round(performance.now() - start) })
}

if (process.argv[1] === LAB_HTTP) {
  const [cmd, a, b, c] = process.argv.slice(2)
  if (cmd === 'serve') {
    const http = await startHttpService()
    print({ event: 'ready', port: http.port })
    process.on('SIGTERM', () => { void http.close().finally(() => process.exit(0)) })
  } else if (cmd === 'get') {
    await get(Number(a), b ?? '/')
  } else if (cmd === 'get-stdin') {
    const line = await new Promise<string>(resolve => {
      let buf = ''
      process.stdin.setEncoding('utf8').on('data', (s: string) => {
        buf += s
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')))
      })
      process.stdin.on('end', () => { resolve(buf) })
    })
    process.stdin.pause()
    await get(Number(line.trim()), a ?? '/')
    process.exit(0)
  } else if (cmd === 'upload') {
    await upload(Number(a), Number(b), Number(c))
  } else if (cmd === 'echo') {
    await echo()
  } else if (cmd === 'session') {
    const [, , , , d] = process.argv.slice(2)
    await session(Number(a), Number(b), Number(c), Number(d))
  } else {
    process.stderr.write('usage: lab-http.ts serve | get <port> <path> | get-stdin <path> | upload <port> <seed> <mib> | echo | session <port> <seconds> <everyMs> <kib>\n')
    process.exit(2)
  }
}
