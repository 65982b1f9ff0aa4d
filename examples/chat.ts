/**
 * A peer-to-peer terminal chat on beam's public API (app messages).
 *
 *   node examples/chat.ts                      # terminal 1: prints a connect string and waits
 *   node examples/chat.ts <connect string>     # terminal 2: joins; type lines in either terminal
 *
 * Each line typed is one app message (at most 32 KiB) to the other side,
 * authenticated by the sender's peer id. Everything stays on 127.0.0.1 unless
 * BEAM_CHAT_LISTEN says otherwise (e.g. /ip4/0.0.0.0/tcp/0 for a LAN).
 */
import { createInterface } from 'node:readline'
import { createBeam, parseTarget } from 'beam'
import type { PeerId } from '@libp2p/interface'

const listen = process.env.BEAM_CHAT_LISTEN ?? '/ip4/127.0.0.1/tcp/0'
const node = await createBeam({ listen: [listen], dht: false, transports: { webrtc: false } })
const short = (id: PeerId | string): string => id.toString().slice(-6)
let peer: string | undefined

await node.onMessage((bytes, from) => {
  const text = new TextDecoder().decode(bytes)
  if (peer == null) {
    // the first peer to write is the one we chat with
    peer = from.peerId.toString()
    console.log(`* ${short(peer)} joined`)
  }
  if (from.peerId.toString() !== peer) return
  if (text !== '/hello') console.log(`${short(from.peerId)}: ${text}`)
})

const target = process.argv[2]
if (target == null) {
  console.log(`* you are ${short(node.peerId)}; on the other side run:`)
  console.log(`node examples/chat.ts ${node.connectString()}`)
} else {
  const t = parseTarget(target)
  peer = t.peerId.toString()
  await node.send(t, new TextEncoder().encode('/hello'), { signal: AbortSignal.timeout(15_000) })
  console.log(`* connected to ${short(peer)} as ${short(node.peerId)}`)
}

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (peer == null) { console.log('* nobody has joined yet'); continue }
  try {
    await node.send(peer, new TextEncoder().encode(line), { signal: AbortSignal.timeout(15_000) })
  } catch (err) {
    console.log(`* not delivered: ${(err as Error).message}`)
  }
}
// stdin closed (Ctrl-D): leave
await node.stop()
