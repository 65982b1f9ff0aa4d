/**
 * Tiny UDP tools for the NAT lab, run inside a lab namespace with
 * `node test/lab/udp-reflector.ts …` (Node strips the types).
 *
 *   reflect <port>...   answer every datagram with JSON {from, port, to, text}:
 *                       the sender's address as seen here ("what is my address")
 *   agent <port>        a UDP socket bound to 0.0.0.0:<port>, driven by stdin lines
 *                       `send <ip> <port> <text>`; every datagram received is printed
 *                       as a JSON line {event:'recv', from, port, text}
 *
 * Both print {"event":"ready", ...} on stdout once bound. Output is one JSON object per line.
 *
 * Imported (not run), it exports a reader for such JSON lines.
 */
import { createSocket } from 'node:dgram'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const UDP_REFLECTOR = fileURLToPath(import.meta.url)

export interface JsonLine { event: string, [key: string]: unknown }

/** Collects the JSON lines a child prints and waits (bounded) for one that matches. */
export class JsonLines {
  readonly lines: JsonLine[] = []
  stderr = ''
  private readonly child: ChildProcess
  private waiters: Array<() => void> = []

  constructor (child: ChildProcess) {
    this.child = child
    if (child.stdout == null) throw new Error('JsonLines: child stdout is not a pipe')
    createInterface({ input: child.stdout }).on('line', line => {
      if (line.trim() === '') return
      try {
        this.lines.push(JSON.parse(line) as JsonLine)
      } catch {
        this.lines.push({ event: '(not json)', line })
      }
      this.notify()
    })
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr += s })
    child.on('exit', () => { this.notify() })
  }

  private notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** The first line (from index `from`) matching pred; rejects after timeoutMs or when the child exits. */
  async waitFor (pred: (l: JsonLine) => boolean, timeoutMs = 5000, from = 0): Promise<JsonLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.lines.slice(from).find(pred)
      if (hit != null) return hit
      if (this.child.exitCode != null || this.child.signalCode != null) {
        throw new Error(`child exited (${String(this.child.exitCode ?? this.child.signalCode)}); lines: ${JSON.stringify(this.lines)}; stderr: ${this.stderr.slice(-2000)}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching line within ${timeoutMs} ms; lines: ${JSON.stringify(this.lines)}; stderr: ${this.stderr.slice(-2000)}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Resolves false if a matching line appears within ms, true if none did. */
  async noneWithin (pred: (l: JsonLine) => boolean, ms: number, from = 0): Promise<boolean> {
    try {
      await this.waitFor(pred, ms, from)
      return false
    } catch {
      return true
    }
  }

  /** Write a command line to the child's stdin. */
  send (line: string): void {
    this.child.stdin?.write(line + '\n')
  }
}

function out (obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function reflect (ports: number[]): void {
  let bound = 0
  for (const port of ports) {
    const sock = createSocket('udp4')
    sock.on('message', (msg, rinfo) => {
      const reply = JSON.stringify({ from: rinfo.address, port: rinfo.port, to: port, text: msg.toString('utf8') })
      sock.send(reply, rinfo.port, rinfo.address)
    })
    sock.bind(port, '0.0.0.0', () => {
      if (++bound === ports.length) out({ event: 'ready', ports })
    })
  }
}

function agent (port: number): void {
  const sock = createSocket('udp4')
  sock.on('message', (msg, rinfo) => {
    out({ event: 'recv', from: rinfo.address, port: rinfo.port, text: msg.toString('utf8') })
  })
  sock.on('error', err => { out({ event: 'error', message: err.message }) })
  sock.bind(port, '0.0.0.0', () => {
    out({ event: 'ready', port: sock.address().port })
    createInterface({ input: process.stdin }).on('line', line => {
      const [cmd, ip, p, ...text] = line.trim().split(' ')
      if (cmd === 'send' && ip != null && p != null) {
        sock.send(text.join(' '), Number(p), ip, err => {
          out({ event: err == null ? 'sent' : 'send-error', to: ip, port: Number(p), ...(err != null ? { message: err.message } : {}) })
        })
      }
    }).on('close', () => { sock.close(); process.exit(0) })
  })
}

if (process.argv[1] === UDP_REFLECTOR) {
  const [mode, ...rest] = process.argv.slice(2)
  const nums = rest.map(Number)
  if (mode === 'reflect' && nums.length > 0 && nums.every(n => Number.isInteger(n))) reflect(nums)
  else if (mode === 'agent' && nums.length === 1 && Number.isInteger(nums[0])) agent(nums[0] ?? 0)
  else {
    process.stderr.write('usage: udp-reflector.ts reflect <port>... | agent <port>\n')
    process.exit(2)
  }
}
