import { Command } from 'commander'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Aliases, createBeam, describeLimits, ephemeralIdentity, InvalidTargetError, looksLikeConnectString, SHARE_NAME_RE, parseNameTarget, parseTarget } from '../../peer/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import type { BeamNode, LimitedRelayEvent, PathInfo, Target } from '../../peer/index.ts'
import { beamHome, homePaths } from '../home.ts'
import { addIdentityOptions, addLogFileOptions, addNetworkOptions, addOutputOptions, createContext, untilAborted } from '../context.ts'
import { openControl } from '../control.ts'
import type { CliIo } from '../context.ts'
import { collect } from '../parse.ts'
import { UsageError } from '../exit-codes.ts'
import { stopWithin } from '../shutdown.ts'
import { addBackendOptions } from '../backend-flags.ts'
import { addConfigOption, connectSettings, createBackends, loadCliConfig, toBeamInit, DEFAULT_TIMEOUT, I2P_TIMEOUT } from '../settings/index.ts'
import type { ConnectFlags, SelectedBackends } from '../settings/index.ts'
import type { BeamConfig, ConnectConfig } from '../config/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BackendUnavailableError, carriedBy, describeBackendAddress } from '../../backends/index.ts'
import type { BackendAddress } from '../../backends/index.ts'
import { TunnelTruncatedError } from '../../tunnel/index.ts'
import { readTargetInput, resolvePasswordFlags, withHiddenTarget } from '../secret-input.ts'
import { addDashboardOptions, openDashboard } from '../dashboard/open.ts'
import { reportMemoryOnSignal, startIdleCollector } from '../memory.ts'

export type { ConnectFlags } from '../settings/index.ts'

export function connectCommand (io: CliIo): Command {
  const cmd = new Command('connect')
    .description('open a local port that forwards to a peer\'s share')
    .argument('[target]', 'connect string printed by beam share, peer id, name.peer-id-prefix (DHT), or alias; - reads it from standard input (default: $BEAM_CONNECT)')
    .option('--connect-file <file>', 'read the target from the first line of a file (- for standard input): keeps the connect string\'s secret out of ps')
    .option('-p, --port <port>', 'local port to listen on (default: a free port, printed)')
    .option('--host <address>', 'local address to listen on (default: 127.0.0.1)')
    .option('--remote <port>', 'which of the share\'s ports (default: its first); PORT/udp for a UDP service, reached through a local UDP port')
    .option('--timeout <ms>', `give up reaching the peer after this many ms (default: ${DEFAULT_TIMEOUT}; ${I2P_TIMEOUT} with i2p, whose first dial builds tunnels)`)
    .option('--listen <address>', 'libp2p address to listen on, repeatable (default: none); on a public address the share can dial this node back when only a relay connects them. unix:PATH listens on a unix socket (mode 0600) instead of a local port', collect)
    .option('--udp-idle-timeout <ms>', 'with --remote PORT/udp: close a UDP source\'s tunnel after this many ms without a datagram either way (default: 60000)')
    .option('--stdio', 'carry one tunnel connection on standard input and output instead of opening a local port (ssh -o ProxyCommand=\'beam connect %h --stdio\'); logs go to stderr')
  addIdentityOptions(cmd)
  addNetworkOptions(cmd)
  addBackendOptions(cmd, 'connect')
  addConfigOption(cmd)
  addOutputOptions(cmd)
  addLogFileOptions(cmd)
  addDashboardOptions(cmd)
  // passwords from files or the environment, here and not in runConnect: `beam up` takes no password flags
  cmd.action(async (target: string | undefined, flags: ConnectFlags) => { await runConnect(target, await resolvePasswordFlags(flags, io), io) })
  return cmd
}

/** The relay's part of a circuit address, or of the WebRTC signalling address. */
function relayOf (remote: string): string | null {
  const at = remote.indexOf('/p2p-circuit')
  return at < 0 ? null : remote.slice(0, at)
}

function viaTurn (p: PathInfo): boolean {
  return p.ice != null && (p.ice.local === 'relay' || p.ice.remote === 'relay')
}

/** What the backend of `remote`'s network (tor, ator, i2p) says about it, if any. */
function backendAddressOf (remote: string): BackendAddress | undefined {
  try {
    return describeBackendAddress(multiaddr(remote))
  } catch {
    return undefined
  }
}

function describePath (p: PathInfo): string {
  const rtt = p.rttMs != null ? `, rtt ${p.rttMs} ms` : ''
  if (p.transport === 'relay') return `path: relayed via ${relayOf(p.remote) ?? p.remote}${rtt}`
  const onBackend = backendAddressOf(p.remote)
  if (onBackend != null) return `path: over ${onBackend.network} to the ${onBackend.kind} ${onBackend.display}${rtt}`
  if (viaTurn(p)) return `path: relayed by a TURN server (webrtc, ${p.ice?.remoteAddress ?? '?'})${rtt}`
  const peerAddr = p.ice != null ? ` to ${p.ice.remoteAddress} (${p.ice.local}/${p.ice.remote} ICE candidates)` : ` via ${p.remote}`
  return `path: direct (${p.transport})${peerAddr}${rtt}`
}

/** The progress line of a `limited` event. */
function describeLimited (e: LimitedRelayEvent): string {
  const limits = describeLimits(e.limits)
  switch (e.state) {
    case 'waiting': return `waiting for a direct path: the relay is limited (${limits}) and carries signalling only (up to ${Math.round(e.timeoutMs / 1000)} s)`
    case 'direct': return `direct path found after ${((e.ms ?? 0) / 1000).toFixed(1)} s; the limited relay carries no tunnel`
    case 'failed': return `no direct path through the limited relay (${limits}): ${e.error ?? 'none came'}`
  }
}

/** The `path` JSON event. */
function pathEvent (p: PathInfo): Record<string, unknown> {
  return {
    direct: p.direct,
    transport: p.transport,
    remote: p.remote,
    relay: p.transport === 'relay' ? relayOf(p.remote) : null,
    turn: viaTurn(p),
    ice: p.ice ?? null,
    rttMs: p.rttMs ?? null
  }
}

/**
 * What the user typed → a parsed target, or the text of a DHT name
 * (`name.prefix`) for the node to resolve. Aliases come first.
 */
export async function resolveTargetText (text: string, aliasesPath: string, viaAlias?: string): Promise<{ target?: Target, text: string, alias?: string }> {
  const t = text.trim()
  if (SHARE_NAME_RE.test(t)) {
    if (viaAlias != null) throw new InvalidTargetError(`alias '${viaAlias}' points at '${t}', another bare name; aliases must point at a peer id, connect string or name.prefix`)
    const aliased = await new Aliases(aliasesPath).get(t)
    if (aliased == null) throw new InvalidTargetError(`'${t}' is neither a peer id nor a beam connect string, nor an alias (beam alias list)`)
    return { ...(await resolveTargetText(aliased, aliasesPath, t)), alias: t }
  }
  if (!looksLikeConnectString(t) && parseNameTarget(t) != null) return { text: t }
  return { target: parseTarget(t), text: t }
}

/** The part of a target's addresses one backend carries (direct: those no other selected backend claims). */
function addressesOnBackend (name: string, addrs: Multiaddr[], selected: SelectedBackends): Multiaddr[] {
  const protocolsOf = (n: string): string[] => selected.backends.find(b => b.name === n)?.addressProtocols ?? []
  const others = selected.names.filter(n => n !== 'direct').flatMap(protocolsOf)
  const first = (ma: Multiaddr): string => ma.getComponents()[0]?.name ?? ''
  return name === 'direct' ? addrs.filter(ma => !others.includes(first(ma))) : addrs.filter(ma => protocolsOf(name).includes(first(ma)))
}

/** --fallback: one network after another, in the order of --backends; the first that connects wins. */
async function connectInOrder (node: BeamNode, target: Target, selected: SelectedBackends, options: Parameters<BeamNode['connect']>[1], log: BeamNode['log']): Promise<Awaited<ReturnType<BeamNode['connect']>>> {
  let last: Error | undefined
  for (const name of selected.names) {
    const multiaddrs = addressesOnBackend(name, target.multiaddrs, selected)
    if (multiaddrs.length === 0) { log.info({ backend: name }, `the connect string has no ${name} address; next network`); continue }
    log.info({ backend: name, addresses: multiaddrs.length }, `trying ${name}`)
    try {
      return await node.connect({ ...target, multiaddrs }, options)
    } catch (err) {
      if (options?.signal?.aborted === true) throw err
      last = err as Error
      log.warn({ backend: name, err: last.message }, `could not connect over ${name}: ${last.message}`)
    }
  }
  throw last ?? new InvalidTargetError(`the connect string has no address on any of ${selected.names.join(', ')}`)
}

/**
 * --stdio: one tunnel on the process's standard input and output, until the
 * share's side ends (or a signal). A tunnel cut short is an error (exit 9):
 * the program on the other end of the pipes (ssh) sees the end of its data.
 */
async function carryStdio (tunnel: Awaited<ReturnType<BeamNode['connect']>>, io: CliIo, log: BeamNode['log'], signal: AbortSignal): Promise<void> {
  const stdin = io.openStdin?.()
  const stdout = io.openStdout?.()
  if (stdin == null || stdout == null) throw new UsageError('--stdio needs the process\'s standard input and output')
  log.info(`tunnel to ${tunnel.peerId.toString()} on standard input and output`)
  const result = await tunnel.pipe(stdin, stdout, { signal })
  log.info({ sent: result.sent, received: result.received }, `tunnel closed (${result.sent} bytes sent, ${result.received} received)`)
  if (result.error != null && !signal.aborted) {
    throw result.error instanceof TunnelTruncatedError ? result.error : new TunnelTruncatedError(`the tunnel broke: ${result.error.message}`)
  }
}

/**
 * `beam connect`, or `beam up NAME` for a named connection (`entry`).
 * `preloaded` is the config file `beam up` already read; otherwise the file
 * that --config or $BEAM_HOME names (if any) is read here.
 */
export async function runConnect (targetArg: string | undefined, flags: ConnectFlags, io: CliIo, preloaded?: BeamConfig, entry?: ConnectConfig): Promise<void> {
  if (flags.stdio === true && (targetArg === '-' || flags.connectFile === '-' || flags.iceServerFile === '-')) throw new UsageError('--stdio carries the tunnel on standard input: the target cannot be read from it (use --connect-file FILE or BEAM_CONNECT)')
  if (flags.stdio === true && (io.openStdin == null || io.openStdout == null)) throw new UsageError('--stdio needs the process\'s standard input and output')
  const input = await readTargetInput(targetArg, flags.connectFile, io)
  const config = preloaded ?? await loadCliConfig(flags, beamHome(io.env), io.signal)
  const ctx = createContext(flags, io)
  for (const w of config?.warnings ?? []) ctx.log.warn(w)
  const settings = await connectSettings(flags, io, ctx.log, config, entry)
  const { localPort, remotePort, timeout } = settings
  const dashboardSet = settings.dashboard
  const selected = await createBackends(settings.backends, { home: ctx.home, ownerPid: process.pid, env: io.env })
  const anonymous = selected.anonymousOnly
  if (anonymous && settings.listenGiven) throw new UsageError(`${selected.names.join('+')}-only mode opens no listener: drop --listen`)
  if (anonymous && settings.node.dht !== false && settings.node.dht.server) throw new UsageError(`${selected.names.join('+')}-only mode uses no DHT: drop --dht-server`)
  const resolved = await withHiddenTarget(input, async () => await resolveTargetText(input.text, homePaths(ctx.home).aliases))
  const target = resolved.target
  if (resolved.alias != null) ctx.log.info({ alias: resolved.alias }, `alias ${resolved.alias} → ${resolved.text.slice(0, 60)}`)
  if (anonymous && (target == null || target.multiaddrs.length === 0)) throw new InvalidTargetError(`${selected.names.join('+')}-only mode finds no peer by id or name (no DHT): give the connect string the share printed`)
  if (anonymous && target != null) {
    const carried = carriedBy(selected.backends)
    if (!target.multiaddrs.some(carried)) {
      throw new InvalidTargetError(`the connect string has no ${selected.names.join(' or ')} address (the share does not run over ${selected.names.join(' or ')}); connect without --${selected.names.length === 1 ? `backend ${selected.names[0] ?? ''}` : 'backends'}`)
    }
  }
  // I2P-only: say at once when the router's SAM bridge is missing (tor's connectors need only SOCKS, which available() does not check)
  const i2p = selected.names.length === 1 ? selected.backends.find(b => b.name === 'i2p') : undefined
  if (i2p != null) {
    const a = await i2p.available({ signal: io.signal })
    if (a.status !== 'ready') throw new BackendUnavailableError(`backend i2p is ${a.status.replace('-', ' ')}: ${a.reason ?? ''}`)
  }
  // anonymous-only: no bootstrap, ICE, DHT or address book (remember nothing of the peer)
  const init = await toBeamInit(settings.node, {
    ctx,
    ...(anonymous ? { anonymous: selected.names } : {}),
    node: { listen: settings.listen, lookupTimeout: timeout, backends: selected.backends }
  })
  if (settings.throwaway) ctx.log.info('anonymous-only mode: connecting with a throwaway identity (pass --identity to use a key file, e.g. for an --allow share)')
  if (target != null && init.privateKey != null && peerIdFromPrivateKey(init.privateKey).equals(target.peerId)) {
    // a share and a connect on one machine share BEAM_HOME, hence the identity
    ctx.log.info('the target is this machine\'s own peer id (a share running here): connecting with a throwaway identity')
    init.privateKey = await ephemeralIdentity()
  }
  const node: BeamNode = await createBeam(init)
  let closeControl: (() => Promise<void>) | undefined
  let closeDashboard: (() => Promise<void>) | undefined
  node.on('lookup', e => { ctx.out.event('lookup', { peerId: e.peerId, state: e.state, addresses: e.addresses ?? null, ms: e.ms ?? null, ...(e.error != null ? { error: e.error } : {}) }) })
  try {
    if (target != null) ctx.log.info({ peer: target.peerId.toString(), addresses: target.multiaddrs.length }, `connecting to ${target.peerId.toString()}`)
    const connectOptions = {
      port: localPort,
      host: settings.host,
      ...(settings.socketPath != null ? { socketPath: settings.socketPath } : {}),
      bind: !settings.stdio,
      ...(settings.udp ? { udp: true, ...(settings.udpIdleTimeout != null ? { datagramIdleTimeout: settings.udpIdleTimeout } : {}) } : {}),
      remotePort,
      dialTimeout: timeout,
      signal: io.signal,
      // also during the connect call: the wait for a direct path comes before the port opens
      onLimited: (e: LimitedRelayEvent) => {
        if (e.state === 'failed') ctx.log.warn(describeLimited(e))
        else ctx.log.info(describeLimited(e))
        ctx.out.event('limited', { state: e.state, relay: e.relay, limits: { bytes: e.limits.bytes ?? null, seconds: e.limits.seconds ?? null }, timeoutMs: e.timeoutMs, ms: e.ms ?? null, ...(e.error != null ? { error: e.error } : {}) })
      }
    }
    const tunnel = selected.fallback && target != null
      ? await connectInOrder(node, target, selected, connectOptions, ctx.log)
      : await node.connect(target ?? resolved.text, connectOptions)
    const peer = tunnel.peerId.toString()
    const control = await openControl(ctx, io, { command: entry != null ? 'up' : 'connect', role: 'connect', name: entry?.name ?? null }, node)
    closeControl = control.close
    control.tracker.watchConnect(tunnel)
    const dashboard = await openDashboard(ctx, control, dashboardSet, `beam ${entry != null ? `up ${entry.name}` : 'connect'}`)
    closeDashboard = dashboard?.close
    tunnel.on('path', p => {
      ctx.log.info(describePath(p))
      ctx.out.event('path', pathEvent(p))
    })
    tunnel.on('upgrade', u => {
      ctx.out.event('upgrade', { technique: u.technique, state: u.state, address: u.address, ms: u.ms ?? null, ...(u.error != null ? { error: u.error } : {}), ...(u.retryInMs != null ? { retryInMs: u.retryInMs } : {}) })
    })
    tunnel.on('disconnected', () => { ctx.out.event('disconnected', { peerId: peer }) })
    tunnel.on('redial', e => { ctx.out.event('redial', { peerId: peer, attempt: e.attempt, error: e.error, retryInMs: e.retryInMs }) })
    tunnel.on('refused', e => { ctx.out.event('refused', { peerId: peer, reason: e.message }) })
    tunnel.on('tunnel:failed', e => { ctx.out.event('tunnel-failed', { id: e.id, code: e.error.name, message: e.error.message }) })
    tunnel.on('tunnel:open', e => { ctx.out.event('tunnel-open', { id: e.id }) })
    tunnel.on('tunnel:close', e => { ctx.out.event('tunnel-close', { id: e.id, sent: e.sent, received: e.received, ...(e.error != null ? { error: e.error } : {}), ...(e.reason != null ? { reason: e.reason } : {}) }) })
    if (settings.stdio) {
      await carryStdio(tunnel, io, ctx.log, control.signal)
      return
    }
    const socketPath = tunnel.socketPath
    const where = socketPath != null ? `unix:${socketPath}` : `${hostPort(tunnel.host, tunnel.port)}${settings.udp ? '/udp' : ''}`
    ctx.out.event('listening', { ...(socketPath != null ? { host: null, port: null, path: socketPath } : { host: tunnel.host, port: tunnel.port }), ...(settings.udp ? { udp: true } : {}), peerId: peer, remotePort: remotePort === 0 ? null : remotePort, dht: node.status().dht?.mode ?? null, dashboard: dashboard?.url ?? null })
    if (tunnel.path != null) {
      ctx.out.event('path', pathEvent(tunnel.path))
    }
    ctx.out.say(`beam connect: ${peer}${remotePort !== 0 ? ` port ${remotePort}${settings.udp ? '/udp' : ''}` : ''} is reachable at ${where}  (Ctrl-C to stop)${dashboard != null ? `\n  dashboard: ${dashboard.url}` : ''}`)
    ctx.log.info({ host: tunnel.host, port: tunnel.port, path: socketPath }, `listening on ${where}`)
    // SIGUSR2 reports memory; buffers left by a finished load are collected once quiet
    const stopMemory = [reportMemoryOnSignal(ctx.out), startIdleCollector()]
    await untilAborted(control.signal)
    for (const stop of stopMemory) stop()
    ctx.log.info('stopping')
  } finally {
    await closeDashboard?.()
    await stopWithin(node, ctx.log)
    await closeControl?.()
  }
}
