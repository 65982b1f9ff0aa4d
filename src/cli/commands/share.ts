import { Command, Option } from 'commander'
import { lstat } from 'node:fs/promises'
import { createBeam, loadOrCreateAccessSecret, newAccessSecret, DEFAULT_SHARE_LISTEN, MIN_PREFIX, DEFAULT_MAX_TUNNELS, DEFAULT_MAX_TUNNELS_PER_PEER } from '../../peer/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import { DEFAULT_SHARE_RESERVATIONS } from '../../relay/index.ts'
import type { AccessPolicy, BeamNode } from '../../peer/index.ts'
import { addIdentityOptions, addLogFileOptions, addNetworkOptions, addOutputOptions, createContext, untilAborted } from '../context.ts'
import { findProcesses, openControl } from '../control.ts'
import type { FoundProcess } from '../control.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { CliIo, IdentityKind } from '../context.ts'
import { anonymousPaths, backendSetName, beamHome, homePaths } from '../home.ts'
import { UsageError, availabilityLine } from '../exit-codes.ts'
import { collect } from '../parse.ts'
import { stopWithin } from '../shutdown.ts'
import { addBackendOptions } from '../backend-flags.ts'
import { addConfigOption, createBackends, loadCliConfig, shareSettings, toBeamInit } from '../settings/index.ts'
import type { SelectedBackends, ShareFlags, ShareSource } from '../settings/index.ts'
import type { BeamConfig } from '../config/index.ts'
import type { Logger } from '../../peer/index.ts'
import { BackendUnavailableError } from '../../backends/index.ts'
import { resolvePasswordFlags } from '../secret-input.ts'
import { encodeQr, qrTerminalWidth, renderQrTerminal } from '../qr/index.ts'
import { pickDevServer } from '../dev-server.ts'
import { REACHABILITY_LABEL, reachabilityHint } from '../reachability-hint.ts'
import { addDashboardOptions, openDashboard } from '../dashboard/open.ts'
import { reportMemoryOnSignal, startIdleCollector } from '../memory.ts'
import { GatewayRegistration, InvalidGatewayNameError, nameProblem } from '../../gateway/index.ts'
import type { GatewayGrant } from '../../gateway/index.ts'
import { parsePeerMultiaddr, parseTarget } from '../../peer/index.ts'
import type { Target } from '../../peer/index.ts'

export type { ShareFlags } from '../settings/index.ts'

export function shareCommand (io: CliIo): Command {
  const cmd = new Command('share')
    .description('make local TCP services (or unix sockets) reachable by peers; prints a connect string')
    .argument('[ports...]', 'services to share: PORT, HOST:PORT (either with /udp for a UDP service) or unix:PATH (offered as the lowest port number no other service uses, from 1); the first is the default. None: the dev server running on this machine, if exactly one answers at the usual ports')
    .option('--public', 'anyone who knows the peer id may connect (no secret)')
    .option('--allow <peer-id>', 'only this peer may connect, repeatable (no secret)', collect)
    .option('--rotate-secret', 'make a new access secret: connect strings handed out before stop working')
    .option('--listen <multiaddr>', `address to listen on, repeatable (default: ${DEFAULT_SHARE_LISTEN.join(' ')})`, collect)
    .option('--no-listen', 'open no listener: reachable only through relays')
    .option('--announce <multiaddr>', 'address to announce instead of the listening ones, repeatable', collect)
    .option('--no-relay', 'do not reserve slots on relays (only direct connections reach this share)')
    .option('--name <name>', `also publish this name in the DHT: others connect to <name>.<first ${MIN_PREFIX}+ characters of the peer id>`, collect)
    .option('--max-tunnels <n>', `tunnels open at once over all peers; past it new ones are answered "overloaded" (default ${DEFAULT_MAX_TUNNELS})`)
    .option('--qr', 'also print the connect string as a QR code on the terminal (the short form when the full one would be wider than 80 columns)')
    .option('--max-tunnels-per-peer <n>', `tunnels one peer may have open at once (default ${DEFAULT_MAX_TUNNELS_PER_PEER})`)
    .option('--gateway <address>', 'also serve the first port to web browsers through this beam gateway (its multiaddr with /p2p/<peer-id>, or its peer id); the first --name is claimed there')
    .option('--http', 'the same, through the gateway that BEAM_GATEWAY names')
    .addOption(new Option('--http-auth <user:password>', 'web visitors must sign in with these HTTP basic credentials').env('BEAM_HTTP_AUTH'))
    .addOption(new Option('--http-token <token>', 'web visitors must send Authorization: Bearer <token>').env('BEAM_HTTP_TOKEN'))
  addIdentityOptions(cmd)
  addNetworkOptions(cmd)
  addBackendOptions(cmd, 'share')
  addConfigOption(cmd)
  addOutputOptions(cmd)
  addLogFileOptions(cmd)
  addDashboardOptions(cmd)
  // passwords from files or the environment, here and not in runShare: `beam up` takes no password flags
  cmd.action(async (ports: string[], flags: ShareFlags) => { await runShare({ ports }, await resolvePasswordFlags(flags, io), io) })
  return cmd
}

/** The gateway a share opts in to: --gateway, or BEAM_GATEWAY with --http; undefined when neither. */
function gatewayTarget (flags: ShareFlags, env: NodeJS.ProcessEnv): Target | undefined {
  const text = flags.gateway ?? (flags.http === true ? env.BEAM_GATEWAY : undefined)
  if (text == null || text.trim() === '') {
    if (flags.http === true) throw new UsageError('--http needs a gateway: set BEAM_GATEWAY to its address, or pass --gateway <address>')
    if (flags.httpAuth != null || flags.httpToken != null) throw new UsageError('--http-auth and --http-token need --gateway or --http')
    return undefined
  }
  const t = text.trim()
  if (!t.startsWith('/')) return parseTarget(t)
  const ma = parsePeerMultiaddr(t)
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''
  return { peerId: parseTarget(id).peerId, multiaddrs: [ma] }
}

/**
 * --fallback on a share: the first network of the list that is available
 * now (direct always is); the others are not started.
 */
async function firstAvailable (selected: SelectedBackends, signal: AbortSignal, log: Logger): Promise<SelectedBackends> {
  for (const b of selected.backends) {
    const a = b.name === 'direct' ? { status: 'ready' as const } : await b.available({ signal })
    if (a.status === 'ready') {
      log.info({ backend: b.name }, `sharing over ${b.name}, the first available of ${selected.names.join(', ')}`)
      return { ...selected, backends: [b], names: [b.name], anonymousOnly: b.name !== 'direct' }
    }
    log.warn({ backend: b.name, status: a.status }, `${b.name} cannot be used (${availabilityLine(b.name, a)}); trying the next network`)
  }
  throw new BackendUnavailableError(`none of ${selected.names.join(', ')} can be used now (beam backends says why)`)
}

/** The banner's `--remote` hint: needed for a UDP service, optional for a second TCP one. */
function remoteHint (services: Array<{ port: number, udp?: boolean }>): string {
  const first = services[0]
  if (first?.udp === true) return ` --remote ${first.port}/udp`
  const second = services[1]
  return second != null ? ` [--remote ${second.port}${second.udp === true ? '/udp' : ''}]` : ''
}

/** Widest QR code printed, in columns (quiet zone included): a common terminal. */
const QR_MAX_COLUMNS = 80

/**
 * --qr: the connect string as a QR code (upper case: alphanumeric mode, a
 * smaller code; connect strings are read in either case). The short form
 * when the full one would not fit in QR_MAX_COLUMNS and the share has one.
 */
function qrBlock (connect: string, connectShort: string | null): string[] {
  const full = encodeQr(connect.toUpperCase())
  const useShort = qrTerminalWidth(full) > QR_MAX_COLUMNS && connectShort != null
  const code = useShort ? encodeQr(connectShort.toUpperCase()) : full
  const what = useShort ? 'the short form above (the full one is too long for a QR code this wide)' : 'the connect string below'
  const wide = qrTerminalWidth(code) > QR_MAX_COLUMNS ? `; ${qrTerminalWidth(code)} columns wide` : ''
  return [`  QR code of ${what}${wide}:`, ...renderQrTerminal(code)]
}

/** Whether `path` is a socket file now. */
async function isSocket (path: string): Promise<boolean> {
  return await lstat(path).then(st => st.isSocket(), () => false)
}

/** A shared service in the banner: `host:port`, or `unix:PATH (as port N)`. */
function describeService (s: { host?: string | undefined, port: number, path?: string | undefined, udp?: boolean | undefined }): string {
  return s.path != null ? `unix:${s.path} (as port ${s.port})` : `${s.host != null ? hostPort(s.host, s.port) : String(s.port)}${s.udp === true ? '/udp' : ''}`
}

/** The banner's identity line: which key, and why that one. */
function identityLine (kind: IdentityKind, path: string | undefined, selected: SelectedBackends): string {
  if (kind === 'ephemeral' || path == null) return 'ephemeral (a new peer id for this run)'
  const set = backendSetName(selected.names)
  if (kind === 'anonymous') return `${path} (${set}-only: not this machine's clearnet peer id)`
  if (kind === 'file') return `${path} (given with --identity or BEAM_IDENTITY)`
  return selected.names.length > 1
    ? `${path} (the clearnet identity: this share also announces IP addresses, so its peer id is not anonymous)`
    : path
}

/**
 * `beam share`, or `beam up NAME` for a named tunnel (`source`). `preloaded`
 * is the config file `beam up` already read; otherwise the file that
 * --config or $BEAM_HOME names (if any) is read here.
 */
export async function runShare (source: ShareSource, flags: ShareFlags, io: CliIo, preloaded?: BeamConfig): Promise<void> {
  const config = preloaded ?? await loadCliConfig(flags, beamHome(io.env), io.signal)
  const ctx = createContext(flags, io)
  for (const w of config?.warnings ?? []) ctx.log.warn(w)
  let chosen: ShareSource = source
  if ('ports' in source && source.ports.length === 0) {
    const picked = await pickDevServer(io.env)
    ctx.log.info({ service: picked.service }, picked.why)
    ctx.out.say(`beam share: ${picked.why}`)
    ctx.out.event('dev-server', { service: picked.service, why: picked.why })
    chosen = { ports: [picked.service] }
  }
  const settings = await shareSettings(chosen, flags, io, ctx.log, config)
  const dashboardSet = settings.dashboard
  const { services, names } = settings
  // a named tunnel's gateway keys, unless the command line gives them
  const tunnel = 'tunnel' in source ? source.tunnel : undefined
  const web: ShareFlags = tunnel != null ? { ...flags, gateway: flags.gateway ?? tunnel.gateway, httpAuth: flags.httpAuth ?? tunnel.httpAuth, httpToken: flags.httpToken ?? tunnel.httpToken } : flags
  const gateway = gatewayTarget(web, io.env)
  const gatewayName = gateway != null ? names[0] ?? tunnel?.gatewayName : undefined
  if (gatewayName != null) {
    const problem = nameProblem(gatewayName)
    if (problem != null) throw new InvalidGatewayNameError(problem)
  }
  const resolved = await createBackends(settings.backends, { home: ctx.home, ownerPid: process.pid, env: io.env })
  const selected = resolved.fallback ? await firstAvailable(resolved, io.signal, ctx.log) : resolved
  const anonymous = selected.anonymousOnly
  if (anonymous) {
    const mode = `${selected.names.join('+')}-only mode`
    if (settings.listen != null || settings.noListen) throw new UsageError(`${mode} opens no clearnet listener: drop --listen/--no-listen`)
    if (settings.announce != null) throw new UsageError(`${mode} announces no address: drop --announce`)
    if (names.length > 0) throw new UsageError(`${mode} uses no DHT: --name is not available (hand out the connect string)`)
    if (settings.node.dht !== false && settings.node.dht.server) throw new UsageError(`${mode} uses no DHT: drop --dht-server`)
  }
  const listen = anonymous || settings.noListen ? [] : settings.listen ?? DEFAULT_SHARE_LISTEN
  if (!anonymous && settings.noListen && !settings.relay && selected.backends.length === 1) throw new UsageError('--no-listen with --no-relay leaves no way to reach the share')
  const reservations = !anonymous && settings.relay && settings.node.bootstrap.length > 0 ? DEFAULT_SHARE_RESERVATIONS : 0
  // an anonymous-only share has its own identity and secret (anonymousPaths): the clearnet ones would link the two
  const init = await toBeamInit(settings.node, {
    ctx,
    ...(anonymous ? { anonymous: selected.names, anonymousIdentity: true } : {}),
    node: { listen, announce: settings.announce ?? [], reservations, backends: selected.backends, listenOnBackends: true }
  })
  // the default listen addresses come back on the ports they had (per identity); --listen and --ephemeral keep theirs
  if (!anonymous && !settings.noListen && settings.listen == null && init.identityKind !== 'ephemeral') init.listenPorts = homePaths(ctx.home).listenPorts
  if (anonymous && gateway != null) throw new UsageError('a gateway serves shares on the clearnet: --gateway does not go with an anonymous-only share')
  if (names.length > 0 && init.dht === false && gateway == null) throw new UsageError('--name needs the DHT (drop --no-dht)')
  for (const b of selected.backends) {
    if (b.name === 'direct') continue
    const a = await b.available({ signal: io.signal })
    if (a.status !== 'ready') throw new BackendUnavailableError(`backend ${b.name} is ${a.status.replace('-', ' ')}: ${availabilityLine(b.name, a)}`)
  }
  if (!anonymous && selected.backends.length > 1) ctx.log.warn(`sharing over ${selected.names.join(' and ')}: the connect string carries this machine's IP addresses next to the ${selected.names.filter(n => n !== 'direct').join(' and ')} address, so it is not anonymous`)

  let access: AccessPolicy
  if (settings.access.mode !== 'secret') access = settings.access
  else if (settings.node.identity.ephemeral === true) access = { mode: 'secret', secret: newAccessSecret() }
  else access = { mode: 'secret', secret: await loadOrCreateAccessSecret(settings.secretFile ?? (anonymous ? anonymousPaths(ctx.home, selected.names).secret : homePaths(ctx.home).secret), { rotate: settings.access.rotate }) }

  // a second share of the same port with the same identity in this home: say which runs already
  if (init.privateKey != null && settings.node.identity.ephemeral !== true) {
    const peerId = peerIdFromPrivateKey(init.privateKey).toString()
    const ports = services.map(s => s.port)
    const twins = (await findProcesses(ctx.home, io.processIds?.uid ?? 0).catch(() => [] as FoundProcess[]))
      .flatMap(f => f.status != null && f.status.role === 'share' && f.status.peerId === peerId && f.status.ports.some(p => ports.includes(p)) ? [f.status] : [])
    for (const t of twins) {
      const same = t.ports.filter(p => ports.includes(p))
      ctx.log.warn({ pid: t.pid, ports: same }, `another beam share (pid ${t.pid}${t.name != null ? `, ${t.name}` : ''}) already shares port ${same.join(', ')} with this identity: connectors may reach either one (beam status ${t.pid})`)
      ctx.out.event('duplicate', { pid: t.pid, peerId, ports: same, name: t.name, startedAt: t.startedAt })
    }
  }
  ctx.log.info({ ports: services.map(s => s.port), services: services.map(describeService) }, 'starting share')
  for (const s of services) {
    if (s.path != null && !(await isSocket(s.path))) ctx.log.warn({ path: s.path }, `unix:${s.path} is not a socket now; connectors are told the service is unavailable until it is`)
  }
  const node: BeamNode = await createBeam(init)
  let closeControl: (() => Promise<void>) | undefined
  let closeDashboard: (() => Promise<void>) | undefined
  try {
    if (reservations > 0) {
      ctx.log.info('reserving a slot on a relay, so that peers behind NATs can reach this share')
      const waitStart = Date.now()
      const relayed = await node.waitForReservation({ timeout: 10_000, signal: io.signal })
      const gaveUpEarly = Date.now() - waitStart < 9_000
      if (relayed.length > 0) ctx.log.info({ relays: relayed.length }, `reachable through ${relayed.length} relay address(es)`)
      else if (node.bootstrapRunsNoRelay) ctx.log.warn('none of the bootstrap nodes runs a relay: only peers that can reach this machine directly will connect')
      else if (gaveUpEarly) ctx.log.warn('no relay reservation: no bootstrap node could be reached or none offers a relay; only peers that can reach this machine directly will connect')
      else ctx.log.warn('no relay reservation within 10 s: only peers that can reach this machine directly will connect')
      // a full relay counts as limited until its answer says otherwise
      if (relayed.length > 0) await node.settleReachability({ timeout: 5000 })
    }
    const share = await node.share({ services, access, ...settings.limits, ...(gateway != null ? { gateways: [gateway.peerId.toString()] } : {}) })
    let registration: GatewayRegistration | undefined
    let grant: GatewayGrant | undefined
    if (gateway != null) {
      registration = new GatewayRegistration({ node, gateway, name: gatewayName, auth: { basic: web.httpAuth, token: web.httpToken }, logger: ctx.log })
      grant = await registration.start(io.signal)
      registration.on('registered', g => { ctx.out.event('gateway', { peerId: gateway.peerId.toString(), state: 'registered', url: g.nameUrl ?? g.url }) })
      registration.on('lost', e => { ctx.out.event('gateway', { peerId: gateway.peerId.toString(), state: 'lost', error: e.error }) })
    }
    const connectNow = (): string => node.connectString(access.mode === 'secret' ? access.secret : undefined)
    const processName = 'tunnel' in source ? source.tunnel.name : names[0] ?? null
    const control = await openControl(ctx, io, { command: 'tunnel' in source ? 'up' : 'share', role: 'share', name: processName, access: access.mode }, node, connectNow)
    closeControl = control.close
    control.tracker.watchShare(share)
    if (registration != null && gateway != null && grant != null) {
      const gw = gateway.peerId.toString()
      const tracker = control.tracker
      tracker.gatewayRegistered(gw, grant.nameUrl ?? grant.url)
      registration.on('registered', g => { tracker.gatewayRegistered(gw, g.nameUrl ?? g.url) })
      registration.on('lost', () => { tracker.gatewayLost() })
      registration.on('visitors', b => { tracker.gatewayVisitors(b) })
    }
    const dashboard = await openDashboard(ctx, control, dashboardSet, `beam ${'tunnel' in source ? 'up' : 'share'}${processName != null ? ` ${processName}` : ''}`, connectNow)
    closeDashboard = dashboard?.close
    const publishing = node.dhtEnabled && (init.bootstrap ?? []).length > 0
    if (publishing) {
      node.on('published', e => { ctx.out.event('published', { peerId: node.peerId.toString(), ms: e.ms, names: e.names }) })
      node.startPublishing(names)
    }
    const connect = connectNow()
    // the short form (no addresses) works only where connectors find the share in the DHT
    const connectShort = publishing ? node.connectString(access.mode === 'secret' ? access.secret : undefined, { addresses: false }) : null
    const peerId = node.peerId.toString()
    const multiaddrs = node.getMultiaddrs().map(m => m.toString())
    const reachability = node.reachability()
    const hint = reachabilityHint(reachability)

    share.on('refused', e => { ctx.out.event('refused', { peerId: e.remotePeer, reason: e.reason }) })
    // a unix socket service is named by its path (host is unused there), a UDP one is marked udp
    const where = (e: { host: string, port: number, path?: string, udp?: true }): Record<string, unknown> => ({ host: e.path != null ? null : e.host, port: e.port, ...(e.path != null ? { path: e.path } : {}), ...(e.udp === true ? { udp: true } : {}) })
    share.on('service:unavailable', e => { ctx.out.event('service-unavailable', { peerId: e.remotePeer, ...where(e), reason: e.reason }) })
    share.on('tunnel:open', e => { ctx.out.event('tunnel-open', { id: e.id, peerId: e.remotePeer, ...where(e) }) })
    share.on('tunnel:close', e => { ctx.out.event('tunnel-close', { id: e.id, peerId: e.remotePeer, ...where(e), sent: e.sent, received: e.received, ...(e.error != null ? { error: e.error } : {}) }) })

    ctx.out.event('ready', { peerId, connect, connectShort, multiaddrs, ports: share.services.map(s => s.port), services: share.services.map(s => s.path != null ? { host: null, port: s.port, path: s.path, address: `unix:${s.path}` } : { host: s.host, port: s.port, address: hostPort(s.host, s.port), ...(s.udp === true ? { udp: true } : {}) }), access: access.mode, backends: selected.names, identity: init.identityPath ?? null, identityKind: init.identityKind, dht: node.status().dht?.mode ?? null, reachability, listenMoved: node.listenMoved, dashboard: dashboard?.url ?? null, ...(hint != null ? { hint } : {}), ...(selected.newClientKeys.length > 0 ? { torClientKeys: selected.newClientKeys } : {}), ...(grant != null ? { url: grant.nameUrl ?? grant.url, gateway: { peerId: gateway?.peerId.toString(), url: grant.url, label: grant.label, ...(grant.name != null ? { name: grant.name, nameUrl: grant.nameUrl } : {}) } } : {}) })
    const accessLine = access.mode === 'public'
      ? 'public: anyone who knows the peer id'
      : access.mode === 'allow' ? `allow-list: ${access.peers.length} peer(s)` : 'private: only holders of the connect string below'
    ctx.out.say([
      '',
      `beam share: ${share.services.map(describeService).join(', ')}`,
      `  peer id:   ${peerId}`,
      `  identity:  ${identityLine(init.identityKind, init.identityPath, selected)}`,
      `  access:    ${accessLine}`,
      ...(selected.names.length > 1 || selected.names[0] !== 'direct' ? [`  networks:  ${selected.names.join(', ')}${anonymous ? ' (anonymous-only: no IP address is announced)' : ''}`] : []),
      ...(node.dhtEnabled ? names : []).map(n => `  name:      ${n}.${node.peerId.toString().slice(0, MIN_PREFIX)} (published in the DHT)`),
      ...(grant != null ? [`  web:       ${grant.nameUrl ?? grant.url}${grant.nameUrl != null ? ` (also ${grant.url}; the name is kept ${grant.nameIdleDays ?? '?'} days after the share was last online)` : ''}${web.httpAuth != null || web.httpToken != null ? ' (visitors sign in)' : ''}`] : []),
      `  listening: ${multiaddrs.length > 0 ? multiaddrs.join(' ') : '(none)'}`,
      ...node.listenMoved.map(m => `  moved:     ${m.was} → ${m.now} (${m.reason}): connect strings handed out before name the old port`),
      `  reachable: ${REACHABILITY_LABEL[reachability]}`,
      ...(hint != null ? [`  hint:      ${hint}`] : []),
      ...(node.dhtEnabled ? [`  dht:       ${node.status().dht?.mode ?? 'unknown'}`] : []),
      ...(dashboard != null ? [`  dashboard: ${dashboard.url}`] : []),
      ...selected.newClientKeys.map(k => `  onion client key (give it to one connector: --tor-client-key ${k})`),
      ...(connectShort != null ? [`  short form (finds the addresses in the DHT): ${connectShort}`] : []),
      ...(flags.qr === true ? qrBlock(connect, connectShort) : []),
      '  on the other machine run:  beam connect <connect string below>' + remoteHint(share.services),
      '  press Ctrl-C to stop',
      connect
    ].join('\n'))
    let last = connect
    let lastReach = reachability
    // one `addresses` event per change of the connect string or of the reachability
    const onAddresses = (): void => {
      const next = node.connectString(access.mode === 'secret' ? access.secret : undefined)
      const reach = node.reachability()
      if (next === last && reach === lastReach) return
      const moved = next !== last
      last = next
      lastReach = reach
      const h = reachabilityHint(reach)
      ctx.out.event('addresses', { peerId, connect: next, multiaddrs: node.getMultiaddrs().map(m => m.toString()), reachability: reach, ...(h != null ? { hint: h } : {}) })
      if (moved) ctx.out.say(`addresses changed; new connect string:\n${next}`)
      ctx.out.say(`reachable: ${REACHABILITY_LABEL[reach]}${h != null ? `\n  hint: ${h}` : ''}`)
    }
    node.libp2p.addEventListener('self:peer:update', onAddresses)
    node.on('reachability', onAddresses)
    // SIGUSR2 reports memory; buffers left by a finished load are collected once quiet
    const stopMemory = [reportMemoryOnSignal(ctx.out), startIdleCollector()]
    await untilAborted(control.signal)
    for (const stop of stopMemory) stop()
    node.off('reachability', onAddresses)
    node.libp2p.removeEventListener('self:peer:update', onAddresses)
    ctx.log.info({ open: share.openTunnels }, 'stopping share')
    registration?.close()
  } finally {
    await closeDashboard?.()
    await stopWithin(node, ctx.log)
    await closeControl?.()
  }
}
