/**
 * One side of a birthday hole punch (src/peer/punch), driven by JSON lines on
 * stdin, for the NAT lab: `node test/lab/punch-agent.ts` inside a lab namespace.
 * The test process carries the messages between the two sides, as the relayed
 * connection does in beam.
 *
 *   {"cmd":"bind","stun":{ip,port}}                → {"event":"mapping","ip","port"} (easy side: its socket and mapping)
 *   {"cmd":"hard","peer":{ip,port},"token":hex,"stun":{ip,port}}
 *                                                  → {"event":"hint","publicIp","hint"} then {"event":"result",…}
 *   {"cmd":"easy","peerIp","token":hex,"hint"?}    → {"event":"result","ok","ms","localPort","remote","packetsSent"|"error"}
 *   {"cmd":"say","text"}                           → sends text over the punched pair; the peer prints {"event":"heard","text"}
 *   {"cmd":"reset"}                                → closes every socket of the attempt → {"event":"reset"}
 * Every line carries the attempt's "id" back. Prints {"event":"ready"} first.
 */
import type { Socket } from 'node:dgram'
import { createInterface } from 'node:readline'
import { bindUdp, closeQuietly, easyPunch, startHardPunch, stunMapping } from '../../src/peer/punch/index.ts'
import type { Endpoint, HardPunch, PunchResult, SequenceHint } from '../../src/peer/punch/index.ts'

interface Command { cmd: string, id?: number, stun?: Endpoint, peer?: Endpoint, peerIp?: string, token?: string, hint?: SequenceHint, text?: string, sockets?: number, timeout?: number }

function out (obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

let easySocket: Socket | undefined
let hard: HardPunch | undefined
let pair: PunchResult | undefined

function hold (result: PunchResult, id: number | undefined): void {
  pair = result
  result.socket.on('message', (msg, rinfo) => {
    const text = msg.toString('utf8')
    if (text.startsWith('say:')) out({ event: 'heard', id, text: text.slice(4), from: rinfo.address, port: rinfo.port })
  })
  out({ event: 'result', id, ok: true, ms: result.ms, localPort: result.localPort, remote: result.remote, packetsSent: result.packetsSent })
}

function failed (err: Error & { packetsSent?: number }, id: number | undefined): void {
  out({ event: 'result', id, ok: false, error: err.message, packetsSent: err.packetsSent })
}

async function handle (c: Command): Promise<void> {
  const id = c.id
  if (c.cmd === 'bind' && c.stun != null) {
    easySocket = await bindUdp()
    const m = await stunMapping(easySocket, c.stun)
    out({ event: 'mapping', id, ip: m?.ip, port: m?.port, localPort: easySocket.address().port })
  } else if (c.cmd === 'hard' && c.peer != null && c.token != null) {
    hard = await startHardPunch({ peer: c.peer, token: Buffer.from(c.token, 'hex'), ...(c.stun != null ? { stun: c.stun } : {}), ...(c.sockets != null ? { sockets: c.sockets } : {}), ...(c.timeout != null ? { timeout: c.timeout } : {}) })
    out({ event: 'hint', id, publicIp: hard.publicIp, hint: hard.hint })
    hard.result.then(r => { hold(r, id) }, (err: Error) => { failed(err, id) })
  } else if (c.cmd === 'easy' && c.peerIp != null && c.token != null && easySocket != null) {
    easyPunch({ socket: easySocket, peerIp: c.peerIp, token: Buffer.from(c.token, 'hex'), ...(c.hint != null ? { hint: c.hint } : {}), ...(c.timeout != null ? { timeout: c.timeout } : {}) })
      .then(r => { hold(r, id) }, (err: Error) => { failed(err, id) })
  } else if (c.cmd === 'say' && pair != null) {
    pair.socket.send(`say:${c.text ?? ''}`, pair.remote.port, pair.remote.ip)
  } else if (c.cmd === 'reset') {
    hard?.close()
    if (pair != null) closeQuietly(pair.socket)
    if (easySocket != null) closeQuietly(easySocket)
    hard = undefined
    pair = undefined
    easySocket = undefined
    out({ event: 'reset', id })
  } else {
    out({ event: 'error', id, message: `bad command ${JSON.stringify(c)}` })
  }
}

createInterface({ input: process.stdin }).on('line', line => {
  if (line.trim() === '') return
  let c: Command
  try { c = JSON.parse(line) as Command } catch { out({ event: 'error', message: 'not json' }); return }
  handle(c).catch((err: Error) => { out({ event: 'error', id: c.id, message: err.message }) })
}).on('close', () => { process.exit(0) })
out({ event: 'ready' })
