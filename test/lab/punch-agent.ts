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
 *   {"cmd":"rtc","stun"}                           → WebRTC (node-datachannel) on the punched port: closes the pair's
 *                                                    socket, binds ICE to that very port (portRangeBegin = End), offers;
 *                                                    → {"event":"rtc-local","sdp","type","candidates"} once gathered
 *   {"cmd":"rtc-remote","sdp","type","candidates","stun"} → the peer's description (the answerer creates its
 *                                                    connection on its punched port here) → rtc-local (answer);
 *                                                    then {"event":"rtc-open","pair"} and {"event":"rtc-heard","text"}
 *   {"cmd":"reset"}                                → closes every socket of the attempt → {"event":"reset"}
 * Every line carries the attempt's "id" back. Prints {"event":"ready"} first.
 */
import type { Socket } from 'node:dgram'
import { createInterface } from 'node:readline'
import nodeDataChannel from 'node-datachannel'
import { bindUdp, closeQuietly, easyPunch, startHardPunch, stunMapping } from '../../src/peer/punch/index.ts'
import type { Endpoint, HardPunch, PunchResult, SequenceHint } from '../../src/peer/punch/index.ts'

interface Command { sdp?: string, type?: string, candidates?: Array<{ candidate: string, mid: string }>, cmd: string, id?: number, stun?: Endpoint, peer?: Endpoint, peerIp?: string, token?: string, hint?: SequenceHint, text?: string, sockets?: number, timeout?: number }

function out (obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

let easySocket: Socket | undefined
let hard: HardPunch | undefined
let pair: PunchResult | undefined
let rtc: InstanceType<typeof nodeDataChannel.PeerConnection> | undefined

/** A WebRTC connection whose ICE agent binds the punched local port (the pair's socket is closed first). */
function startRtc (c: Command, id: number | undefined): InstanceType<typeof nodeDataChannel.PeerConnection> {
  const port = pair?.localPort ?? 0
  if (pair != null) closeQuietly(pair.socket)
  // without a punched pair: ICE picks its port as usual (the control case)
  const pc = new nodeDataChannel.PeerConnection(`punch-${id ?? 0}`, { iceServers: c.stun != null ? [`stun:${c.stun.ip}:${c.stun.port}`] : [], ...(port !== 0 ? { portRangeBegin: port, portRangeEnd: port } : {}) })
  const candidates: Array<{ candidate: string, mid: string }> = []
  pc.onLocalCandidate((candidate, mid) => { candidates.push({ candidate, mid }) })
  pc.onGatheringStateChange(state => {
    if (state === 'complete') {
      const d = pc.localDescription()
      out({ event: 'rtc-local', id, sdp: d?.sdp, type: d?.type, candidates, port })
    }
  })
  pc.onStateChange(state => { out({ event: 'rtc-state', id, state }) })
  const wire = (dc: ReturnType<typeof pc.createDataChannel>): void => {
    dc.onOpen(() => {
      out({ event: 'rtc-open', id, pair: pc.getSelectedCandidatePair() })
      dc.sendMessage(`hello over the punched port ${port}`)
    })
    dc.onMessage(msg => { out({ event: 'rtc-heard', id, text: String(msg) }) })
  }
  if (c.cmd === 'rtc') wire(pc.createDataChannel('probe'))
  else pc.onDataChannel(dc => { wire(dc) })
  return pc
}

function remoteRtc (pc: InstanceType<typeof nodeDataChannel.PeerConnection>, c: Command): void {
  pc.setRemoteDescription(c.sdp ?? '', (c.type ?? 'offer') as 'offer')
  for (const cand of c.candidates ?? []) pc.addRemoteCandidate(cand.candidate, cand.mid)
}

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
  } else if (c.cmd === 'rtc' || (c.cmd === 'rtc-remote' && rtc == null)) {
    rtc = startRtc(c, id)
    if (c.cmd === 'rtc-remote') remoteRtc(rtc, c)
  } else if (c.cmd === 'rtc-remote' && rtc != null) {
    remoteRtc(rtc, c)
  } else if (c.cmd === 'reset') {
    rtc?.close()
    rtc = undefined
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
