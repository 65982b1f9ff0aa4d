import { Command } from 'commander'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createBeam, diagnose, ephemeralIdentity, explain, parseTarget } from '../../peer/index.ts'
import type { BeamNode, DoctorReport, Target } from '../../peer/index.ts'
import { addIdentityOptions, addNetworkOptions, addOutputOptions, createContext } from '../context.ts'
import { nodeSettings, toBeamInit } from '../settings/index.ts'
import type { IceSource } from '../settings/index.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { parseMillis } from '../parse.ts'
import { stopWithin } from '../shutdown.ts'
import { readTargetInput, withHiddenTarget } from '../secret-input.ts'

interface DoctorFlags extends CommonFlags {
  timeout?: string
  settle?: string
  connectFile?: string
}

/** The doctor's advice in the CLI's words: its flags. */
const EXPLAIN = { turnServer: 'a TURN server (--ice-server turn:USER:PASS@HOST:PORT)' }

export function doctorCommand (io: CliIo): Command {
  const cmd = new Command('doctor')
    .description('explain this machine\'s reachability (NAT type via STUN, relays) and, given a peer, why its tunnel is direct or relayed')
    .argument('[target]', 'connect string or peer id of a running share to test against; - reads it from standard input')
    .option('--connect-file <file>', 'read the target from the first line of a file (- for standard input): keeps the connect string\'s secret out of ps')
    .option('--timeout <ms>', 'give up reaching the peer after this many ms', '15000')
    .option('--settle <ms>', 'how long to wait for a direct path after connecting', '20000')
  addIdentityOptions(cmd)
  addNetworkOptions(cmd)
  addOutputOptions(cmd)
  cmd.action(async (target: string | undefined, flags: DoctorFlags) => { await runDoctor(target, flags, io) })
  return cmd
}

function iceUrls (servers: Array<{ urls: string | string[] }>): string[] {
  return servers.flatMap(s => Array.isArray(s.urls) ? s.urls : [s.urls])
}

/** Where the STUN servers came from, for the report's heading. */
const ICE_SOURCE: Record<IceSource, string> = {
  explicit: 'given with --ice-server, BEAM_ICE_SERVERS or the config file',
  relays: 'the beam relays\' own STUN responders',
  public: 'the public STUN servers; --no-public-stun turns them off',
  none: 'none'
}

function printReport (r: DoctorReport, dht: string | null, iceSource: IceSource, say: (text: string) => void): void {
  const lines: string[] = ['', `beam doctor: ${r.peerId}`, `  dht: ${dht ?? 'off'}${dht === 'client' ? ' (looks up and publishes; --dht-server to store records for others)' : ''}`, '', `NAT (STUN: ${ICE_SOURCE[iceSource]}):`]
  if (r.nat.answers.length === 0) lines.push('  no STUN server configured (add --ice-server stun:HOST:PORT, or relays with a stunPort)')
  for (const a of r.nat.answers) lines.push(`  ${a.server.padEnd(24)} ${a.mapped != null ? `answered: sees ${a.mapped.address}:${a.mapped.port} (${a.rttMs ?? '?'} ms${a.address != null ? `, asked at ${a.address}` : ''})` : `no answer: ${a.error ?? ''}`}`)
  if (r.nat.answers.length > 0) lines.push(`  answered by: ${r.stunAnsweredBy.length > 0 ? r.stunAnsweredBy.join(', ') : 'none'}`)
  lines.push(`  mapping: ${r.nat.mapping}   local addresses: ${r.nat.localAddresses.join(', ') || 'none'}`)
  lines.push('', 'bootstrap/relay nodes:')
  if (r.bootstrap.length === 0) lines.push('  none')
  for (const b of r.bootstrap) lines.push(`  ${b.ok ? 'ok  ' : 'FAIL'} ${b.address}${b.ok ? ` rtt ${b.rttMs ?? '?'} ms${b.relay === true ? ', relay' : ', not a relay'}` : ` (${b.error ?? ''})`}`)
  const t = r.target
  if (t != null) {
    lines.push('', `peer ${t.peerId}:`)
    for (const a of t.attempts) lines.push(`  ${a.ok ? 'ok  ' : 'FAIL'} ${a.kind.padEnd(8)} ${a.address} (${a.ms} ms${a.error != null ? `: ${a.error}` : ''})`)
    for (const u of t.upgrades.filter(x => x.state !== 'trying')) lines.push(`  ${u.state === 'succeeded' ? 'ok  ' : 'FAIL'} upgrade  webrtc via ${u.address.split('/p2p-circuit')[0] ?? ''} (${u.ms ?? '?'} ms${u.error != null ? `: ${u.error}` : ''})`)
    if (t.path != null) lines.push(`  path: ${t.path.direct ? 'direct' : 'relayed'} ${t.path.transport}${t.path.rttMs != null ? `, rtt ${t.path.rttMs} ms` : ''}${t.path.ice != null ? `, ICE ${t.path.ice.local}/${t.path.ice.remote} to ${t.path.ice.remoteAddress}` : ''}`)
    if (t.error != null) lines.push(`  error: ${t.error}`)
  }
  lines.push('', 'verdict:', ...explain(r, EXPLAIN).map(l => `  - ${l}`), '')
  say(lines.join('\n'))
}

async function runDoctor (targetArg: string | undefined, flags: DoctorFlags, io: CliIo): Promise<void> {
  // the target is optional here: BEAM_CONNECT is not read, so that a set variable does not change what doctor checks
  const input = targetArg != null || flags.connectFile != null ? await readTargetInput(targetArg, flags.connectFile, io) : undefined
  const target: Target | undefined = input != null ? await withHiddenTarget(input, async () => parseTarget(input.text)) : undefined
  const dialTimeout = parseMillis(flags.timeout ?? '15000', 'timeout')
  const settleMs = parseMillis(flags.settle ?? '20000', 'settle time')
  const ctx = createContext(flags, io)
  const settings = await nodeSettings(flags, io, ctx.log)
  const init = await toBeamInit(settings, { ctx, node: { listen: [] } })
  if (target != null && init.privateKey != null && peerIdFromPrivateKey(init.privateKey).equals(target.peerId)) {
    init.privateKey = await ephemeralIdentity()
  }
  const node: BeamNode = await createBeam(init)
  try {
    const report = await diagnose(node, target, {
      iceServers: iceUrls(init.iceServers ?? []),
      dialTimeout,
      settleMs,
      signal: io.signal,
      onProgress: line => { ctx.log.info(line) }
    })
    if (io.signal.aborted) return
    const dht = node.status().dht?.mode ?? null
    ctx.out.event('doctor', { ...report, iceSource: settings.iceSource, dht, verdict: explain(report, EXPLAIN) })
    if (!ctx.out.json) printReport(report, dht, settings.iceSource, text => { io.stdout.write(`${text}\n`) })
  } finally {
    await stopWithin(node, ctx.log)
  }
}
