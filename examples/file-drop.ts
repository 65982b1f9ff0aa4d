/**
 * A peer-to-peer file drop on beam's public API (an app stream).
 *
 *   node examples/file-drop.ts receive ./inbox         # terminal 1: prints the command for the sender
 *   node examples/file-drop.ts send <connect string> <file>   # terminal 2: sends the file, exits 0 once it is confirmed
 *
 * The sender writes one header line ({"name","size","sha256"} as JSON) and
 * then the file's bytes on a `/beam-example/file-drop/1.0.0` stream, with
 * backpressure (a slow disk on either side slows the other down, nothing
 * piles up in memory). The receiver writes the bytes to the folder, checks
 * size and SHA-256, and answers `ok <sha256>` or `error <reason>`. Only the
 * file's base name is used; an existing file is never overwritten.
 * `--once` makes the receiver exit after one file. Everything stays on
 * 127.0.0.1 unless BEAM_DROP_LISTEN says otherwise (e.g. /ip4/0.0.0.0/tcp/0).
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { Duplex } from 'node:stream'
import { createBeam } from 'beam'

const PROTOCOL = '/beam-example/file-drop/1.0.0'
/** Longest header line accepted, in bytes. */
const MAX_HEADER = 4096

/** What the sender announces before the bytes. */
interface Header { name: string, size: number, sha256: string }

const [mode, ...args] = process.argv.slice(2)
const once_ = args.includes('--once')
const positional = args.filter(a => a !== '--once')

/** Read a whole (short) answer from a stream. */
async function readText (stream: Duplex): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  return text
}

/** Receive one file from `stream` into `dir`; returns the line to answer with. */
async function receiveFile (stream: Duplex, dir: string): Promise<{ answer: string, header?: Header }> {
  let pending = Buffer.alloc(0)
  let header: Header | undefined
  let tmp = ''
  let out: ReturnType<typeof createWriteStream> | undefined
  const hash = createHash('sha256')
  let received = 0
  for await (const raw of stream) {
    let chunk = raw as Buffer
    if (header == null) {
      pending = Buffer.concat([pending, chunk])
      const nl = pending.indexOf(10)
      if (nl < 0) {
        if (pending.length > MAX_HEADER) return { answer: 'error header too long' }
        continue
      }
      const parsed = JSON.parse(pending.subarray(0, nl).toString()) as Partial<Header>
      const name = basename(String(parsed.name ?? ''))
      if (name === '' || name.startsWith('.') || !Number.isSafeInteger(parsed.size) || typeof parsed.sha256 !== 'string') return { answer: 'error bad header' }
      header = { name, size: Number(parsed.size), sha256: parsed.sha256 }
      tmp = join(dir, `.${name}.${process.pid}.part`)
      out = createWriteStream(tmp, { flags: 'wx' })
      chunk = pending.subarray(nl + 1)
    }
    received += chunk.length
    if (received > header.size) break
    hash.update(chunk)
    // the for-await loop reads no further while the disk catches up: backpressure to the sender
    if (out != null && !out.write(chunk)) await once(out, 'drain')
  }
  if (out != null) { out.end(); await once(out, 'close') }
  if (header == null) return { answer: 'error no header' }
  const digest = hash.digest('hex')
  if (received !== header.size || digest !== header.sha256) {
    await rm(tmp, { force: true })
    return { answer: `error got ${received} bytes with sha256 ${digest}`, header }
  }
  const final = join(dir, header.name)
  if (await stat(final).then(() => true, () => false)) {
    await rm(tmp, { force: true })
    return { answer: `error ${header.name} exists already`, header }
  }
  await rename(tmp, final)
  return { answer: `ok ${digest}`, header }
}

async function receive (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const node = await createBeam({ listen: [process.env.BEAM_DROP_LISTEN ?? '/ip4/127.0.0.1/tcp/0'], dht: false, transports: { webrtc: false } })
  let done: () => void = () => {}
  const finished = new Promise<void>(resolve => { done = resolve })
  await node.handle(PROTOCOL, async (stream, from) => {
    const who = from.peerId.toString().slice(-6)
    const { answer, header } = await receiveFile(stream, dir).catch((err: Error) => ({ answer: `error ${err.message}`, header: undefined }))
    stream.end(answer)
    console.log(answer.startsWith('ok')
      ? `* received ${header?.name ?? '?'} (${header?.size ?? 0} bytes, sha256 checked) from ${who}`
      : `* refused a file from ${who}: ${answer}`)
    if (once_) {
      // let the sender hang up first (at most 5 s): stopping both ends at the same moment can leave the sender's stop() waiting
      const gone = async (): Promise<void> => {
        const deadline = Date.now() + 5000
        while (node.libp2p.getConnections(from.peerId).length > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
      }
      void gone().then(done)
    }
  })
  console.log(`* dropping files into ${dir}; on the other side run:`)
  console.log(`node examples/file-drop.ts send ${node.connectString()} <file>`)
  process.once('SIGINT', done)
  process.once('SIGTERM', done)
  await finished
  await node.stop()
}

async function send (target: string, file: string): Promise<number> {
  const size = (await stat(file)).size
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  const header: Header = { name: basename(file), size, sha256: hash.digest('hex') }
  const node = await createBeam({ dht: false, transports: { webrtc: false } })
  try {
    const stream = await node.open(target, PROTOCOL, { signal: AbortSignal.timeout(15_000) })
    const answer = readText(stream)
    stream.write(JSON.stringify(header) + '\n')
    for await (const chunk of createReadStream(file)) {
      if (!stream.write(chunk)) await once(stream, 'drain')
    }
    stream.end()
    const reply = await answer
    if (reply !== `ok ${header.sha256}`) {
      console.log(`* not delivered: ${reply}`)
      return 1
    }
    console.log(`* sent ${header.name}: ${size} bytes, sha256 ${header.sha256}, confirmed by the receiver`)
    return 0
  } finally {
    await node.stop()
  }
}

if (mode === 'receive' && positional.length === 1) {
  await receive(positional[0] ?? '.')
} else if (mode === 'send' && positional.length === 2) {
  process.exitCode = await send(positional[0] ?? '', positional[1] ?? '').catch((err: Error) => {
    console.log(`* not delivered: ${err.message}`)
    return 1
  })
} else {
  console.log('usage: node examples/file-drop.ts receive <folder> [--once]\n       node examples/file-drop.ts send <connect string> <file>')
  process.exitCode = 2
}
