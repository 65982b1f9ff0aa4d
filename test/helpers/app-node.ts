/**
 * A beam node in a process of its own, driven over stdin/stdout with JSON
 * lines, for test/integration/app-api-process.test.ts. It uses only the
 * package's public exports (`import … from 'beam'`, resolved through
 * package.json `exports`), as an app would.
 *
 * Every request is `{ id, op, ...args }` and gets exactly one answer
 * `{ id, ok: true, ...result }` or `{ id, ok: false, error: { name, message } }`.
 * Unsolicited events are `{ event, ...data }`. Bytes travel as base64.
 * The process exits when stdin ends or after `stop`.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Duplex } from 'node:stream'
import { createBeam, parsePeerMultiaddr } from 'beam'
import type { BeamInit, BeamNode } from 'beam'

/** What the test may pass as `init` (JSON: multiaddrs as strings). */
export interface AppNodeInit {
  listen?: string[]
  bootstrap?: string[]
  reservations?: number
  relayServer?: boolean
  dhtServer?: boolean
}

/** A request line (`op` picks the operation; the other fields are its arguments). */
export interface AppNodeRequest {
  id: number
  op: string
  [arg: string]: unknown
}

let node: BeamNode | undefined
const b64 = (data: Uint8Array): string => Buffer.from(data).toString('base64')
const bytes = (text: unknown): Uint8Array => new Uint8Array(Buffer.from(String(text ?? ''), 'base64'))
const write = (line: object): void => { process.stdout.write(JSON.stringify(line) + '\n') }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Gates of the slow sinks: a sink reads nothing until its gate opens. */
const gates = new Map<string, { open: Promise<void>, release: () => void }>()
function gate (name: string): { open: Promise<void>, release: () => void } {
  let g = gates.get(name)
  if (g == null) {
    let release: () => void = () => {}
    const open = new Promise<void>(resolve => { release = resolve })
    g = { open, release }
    gates.set(name, g)
  }
  return g
}

function running (): BeamNode {
  if (node == null) throw new Error('no node: send start first')
  return node
}

function describeNode (n: BeamNode): object {
  return { peerId: n.peerId.toString(), multiaddrs: n.getMultiaddrs().map(m => `${m.toString()}/p2p/${n.peerId.toString()}`), connectString: n.connectString() }
}

/** Read a stream to its end, `delayMs` after each chunk; hash what came. */
async function drain (stream: Duplex, delayMs: number): Promise<{ bytes: number, sha256: string }> {
  const hash = createHash('sha256')
  let n = 0
  for await (const chunk of stream) {
    hash.update(chunk as Buffer)
    n += (chunk as Buffer).length
    if (delayMs > 0) await sleep(delayMs)
  }
  return { bytes: n, sha256: hash.digest('hex') }
}

const ops: Record<string, (req: AppNodeRequest) => Promise<object>> = {
  async start (req) {
    const init = (req.init ?? {}) as AppNodeInit
    const options: BeamInit = {
      listen: init.listen ?? [],
      bootstrap: (init.bootstrap ?? []).map(parsePeerMultiaddr),
      reservations: init.reservations ?? 0,
      transports: { webrtc: false },
      dht: { server: init.dhtServer === true }
    }
    if (init.relayServer === true) options.relayServer = {}
    node = await createBeam(options)
    if ((init.reservations ?? 0) > 0) {
      const relayed = await node.waitForReservation({ timeout: 60_000 })
      if (relayed.length === 0) throw new Error('no relay reservation within 60 s')
    }
    return describeNode(node)
  },

  /** Echo every stream of `protocol` back to its sender. */
  async echo (req) {
    await running().handle(String(req.protocol), (stream) => { stream.pipe(stream) })
    return {}
  },

  /**
   * A slow reader on `protocol`: reads nothing until `release`, then reads
   * with `delayMs` after every chunk, and answers with the count and hash.
   */
  async sink (req) {
    const name = String(req.protocol)
    const delayMs = Number(req.delayMs ?? 0)
    await running().handle(name, async (stream, from) => {
      write({ event: 'sink:open', protocol: name, from: from.peerId.toString() })
      await gate(name).open
      const got = await drain(stream, delayMs)
      write({ event: 'sink:done', protocol: name, ...got })
      stream.end(JSON.stringify(got))
    })
    return {}
  },

  async release (req) {
    gate(String(req.protocol)).release()
    return {}
  },

  /** Write `bytes` pseudo-random bytes on each stream of `protocol`, with backpressure; report their hash. */
  async source (req) {
    const name = String(req.protocol)
    const total = Number(req.bytes)
    await running().handle(name, async (stream) => {
      const hash = createHash('sha256')
      let block = createHash('sha256').update(name).digest()
      let sent = 0
      let waits = 0
      while (sent < total) {
        // 64 KiB blocks from a hash chain: different bytes everywhere
        const chunk = Buffer.alloc(Math.min(64 * 1024, total - sent))
        for (let o = 0; o < chunk.length; o += 32) { block = createHash('sha256').update(block).digest(); block.copy(chunk, o) }
        hash.update(chunk)
        sent += chunk.length
        if (!stream.write(chunk)) { waits++; await once(stream, 'drain') }
      }
      stream.end()
      write({ event: 'source:done', protocol: name, bytes: sent, sha256: hash.digest('hex'), waits })
    })
    return {}
  },

  async onMessage () {
    await running().onMessage((data, from) => { write({ event: 'message', from: from.peerId.toString(), data: b64(data) }) })
    return {}
  },

  /** Calls: 'fail' throws, 'slow:<ms>' answers after that long, anything else comes back reversed. */
  async onCall () {
    await running().onCall(async (request) => {
      const text = Buffer.from(request).toString()
      if (text === 'fail') throw new Error('the handler failed on purpose')
      const slow = /^slow:(\d+)$/.exec(text)
      if (slow != null) { await sleep(Number(slow[1])); return request }
      return Buffer.from(text.split('').reverse().join(''))
    })
    return {}
  },

  async send (req) {
    await running().send(String(req.target), bytes(req.data), { signal: AbortSignal.timeout(60_000) })
    return {}
  },

  async call (req) {
    const reply = await running().call(String(req.target), bytes(req.data), { signal: AbortSignal.timeout(60_000) })
    return { data: b64(reply) }
  },

  async put (req) {
    const options = req.ttl != null ? { ttl: Number(req.ttl), signal: AbortSignal.timeout(60_000) } : { signal: AbortSignal.timeout(60_000) }
    return await running().records.put(String(req.name), bytes(req.value), options)
  },

  async get (req) {
    const rec = await running().records.get(String(req.peerId), String(req.name), { signal: AbortSignal.timeout(60_000) })
    return { peerId: rec.peerId, name: rec.name, value: b64(rec.value), seq: rec.seq, expires: rec.expires }
  },

  async stop () {
    await node?.stop()
    node = undefined
    return {}
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let req: AppNodeRequest
  try {
    req = JSON.parse(line) as AppNodeRequest
  } catch {
    write({ event: 'bad-request', line })
    return
  }
  const op = ops[req.op]
  if (op == null) { write({ id: req.id, ok: false, error: { name: 'UnknownOp', message: `unknown op ${req.op}` } }); return }
  op(req).then(
    result => { write({ id: req.id, ok: true, ...result }); if (req.op === 'stop') process.exit(0) },
    (err: Error) => { write({ id: req.id, ok: false, error: { name: err.name, message: err.message } }) }
  )
})
lines.on('close', () => { void (async () => { await node?.stop(); process.exit(0) })() })
