import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { createBeam, parsePeerId } from '../../peer/index.ts'
import type { BeamNode } from '../../peer/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import { AcmeCertificates, Gateway, GatewayMetrics, NameStore, TlsConfigError, CertificateFiles, covers, serveMetrics, DEFAULT_SHARE_RATE, DEFAULT_MAX_VISITORS } from '../../gateway/index.ts'
import type { GatewayMetricsServer } from '../../gateway/index.ts'
import { addIdentityOptions, addOutputOptions, createContext, parseListen, untilAborted } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { collect, parseBindAddress, parseBytes, parseCount, parsePort } from '../parse.ts'
import { nodeSettings, toBeamInit } from '../settings/index.ts'
import { stopWithin } from '../shutdown.ts'

/** Where a gateway's beam node listens by default: TCP port 4003 on every interface. */
export const DEFAULT_GATEWAY_P2P_LISTEN = ['/ip4/0.0.0.0/tcp/4003', '/ip6/::/tcp/4003']

interface GatewayFlags extends CommonFlags {
  domain?: string
  listen: string
  httpListen?: string
  publicPort?: string
  tlsCert?: string
  tlsKey?: string
  p2pListen?: string[]
  announce?: string[]
  namesFile?: string
  nameIdleDays: string
  allowShare?: string[]
  acmeDirectory?: string
  acmeEmail?: string
  acmeCa?: string
  acmeDir?: string
  rate: string
  bandwidth: string
  maxVisitors: string
  metrics?: string
  accessLog?: string
}

export function gatewayCommand (io: CliIo): Command {
  const cmd = new Command('gateway')
    .description('serve shares that opt in (beam share --gateway) to web browsers at https://<share>.<domain>/')
    .option('--domain <domain>', 'the domain shares get names under, e.g. gw.example.org (a wildcard DNS record *.DOMAIN points here)')
    .option('--listen <host:port>', 'where browsers connect: HTTPS with a certificate, else plain HTTP', '0.0.0.0:443')
    .option('--http-listen <host:port>', 'plain HTTP listener: redirects to HTTPS and answers ACME HTTP-01 challenges (e.g. 0.0.0.0:80)')
    .option('--public-port <port>', 'the port visitors use in URLs, when it differs from --listen\'s (port forwarding)')
    .option('--tls-cert <file>', 'certificate chain (PEM) for *.DOMAIN, e.g. a wildcard certificate')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--p2p-listen <multiaddr>', `beam (libp2p) address shares register at, repeatable (default: ${DEFAULT_GATEWAY_P2P_LISTEN.join(' ')})`, collect)
    .option('--announce <multiaddr>', 'public beam address to announce (behind a NAT or on 0.0.0.0), repeatable', collect)
    .option('--names-file <file>', 'where claimed short names are kept (default: $BEAM_HOME/gateway-names.json)')
    .option('--name-idle-days <n>', 'release a short name when its share has not been online for this many days', '30')
    .option('--acme-directory <url>', 'get certificates from this ACME CA (e.g. https://acme-v02.api.letsencrypt.org/directory); needs --http-listen on port 80 for HTTP-01')
    .option('--acme-email <address>', 'contact address of the ACME account (expiry notices)')
    .option('--acme-ca <file>', 'trust this CA certificate (PEM) for the ACME server\'s own HTTPS (a private CA)')
    .option('--acme-dir <dir>', 'where the ACME account key and certificates are kept (default: $BEAM_HOME/acme)')
    .option('--rate <n>', 'requests per second per share, bursts of twice that (0 = no limit)', String(DEFAULT_SHARE_RATE))
    .option('--bandwidth <size>', 'bytes per second per share, both directions together, e.g. 10MB (0 = no limit)', '0')
    .option('--max-visitors <n>', 'requests and WebSocket sessions in flight per share (0 = no limit)', String(DEFAULT_MAX_VISITORS))
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--access-log <file>', 'append one JSON line per visitor request to this file')
    .option('--allow-share <peer-id>', 'serve only these shares, repeatable (default: any share that opts in)', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap/relay node to join, repeatable (env BEAM_BOOTSTRAP, comma-separated); bootstrap-nodes.json is not read', collect)
    .option('--no-default-bootstrap', 'accepted as on the other commands; a gateway never reads bootstrap-nodes.json')
    .option('--no-dht', 'do not use the DHT')
  addIdentityOptions(cmd)
  addOutputOptions(cmd)
  cmd.action(async (flags: GatewayFlags) => { await runGateway(flags, io) })
  return cmd
}

/** Read --tls-cert/--tls-key (both or neither); they are read again when they change. */
async function certificateFlags (flags: GatewayFlags): Promise<CertificateFiles | undefined> {
  if (flags.tlsCert == null && flags.tlsKey == null) return undefined
  if (flags.tlsCert == null || flags.tlsKey == null) throw new UsageError('--tls-cert and --tls-key go together')
  return await CertificateFiles.load({ certFile: flags.tlsCert, keyFile: flags.tlsKey })
}

async function runGateway (flags: GatewayFlags, io: CliIo): Promise<void> {
  if (flags.domain == null) throw new UsageError('beam gateway needs --domain (e.g. --domain gw.example.org)')
  const listenAt = parseBindAddress(flags.listen, 'listen')
  const httpAt = flags.httpListen != null ? parseBindAddress(flags.httpListen, 'http listen') : undefined
  const publicPort = flags.publicPort != null ? parsePort(flags.publicPort, 'public port') : undefined
  const idleDays = parseCount(flags.nameIdleDays, 'name idle days')
  const allow = flags.allowShare?.map(p => parsePeerId(p).toString())
  const p2pListen = parseListen(flags.p2pListen ?? DEFAULT_GATEWAY_P2P_LISTEN)
  const announce = parseListen(flags.announce ?? [])
  const limits = { ratePerSecond: parseCount(flags.rate, 'rate', 0), bytesPerSecond: parseBytes(flags.bandwidth, 'bandwidth'), maxVisitors: parseCount(flags.maxVisitors, 'max visitors', 0) }
  const metricsAt = flags.metrics != null ? parseBindAddress(flags.metrics, 'metrics') : undefined
  const certFiles = await certificateFlags(flags)
  const cert = certFiles?.current
  if (flags.acmeDirectory != null && cert != null) throw new UsageError('--acme-directory and --tls-cert exclude each other: certificates come from one of them')
  if (flags.acmeDirectory != null && httpAt == null) throw new UsageError('--acme-directory needs --http-listen (the CA checks HTTP-01 challenges on port 80)')
  if (flags.acmeDirectory == null && (flags.acmeEmail != null || flags.acmeCa != null || flags.acmeDir != null)) throw new UsageError('--acme-email, --acme-ca and --acme-dir go with --acme-directory')
  const acmeCa = flags.acmeCa != null ? await readFile(flags.acmeCa).catch(() => { throw new TlsConfigError(`cannot read the ACME CA file ${flags.acmeCa ?? ''}`) }) : undefined
  const domain = flags.domain.toLowerCase().replace(/\.$/, '')
  const ctx = createContext(flags, io)
  if (cert != null && !covers(cert.names, `x.${domain}`)) ctx.log.warn({ names: cert.names }, `the certificate does not cover *.${domain}: browsers will refuse share names it does not list`)
  const settings = { ...await nodeSettings({ ...flags, defaultBootstrap: false, publicStun: false }, io, ctx.log), webrtc: false }
  const init = await toBeamInit(settings, { ctx, node: { listen: p2pListen, announce } })
  const names = new NameStore({ file: flags.namesFile ?? join(ctx.home, 'gateway-names.json'), idle: idleDays * 86_400_000 })
  const acme = flags.acmeDirectory != null
    ? new AcmeCertificates({ directoryUrl: flags.acmeDirectory, email: flags.acmeEmail, dir: flags.acmeDir ?? join(ctx.home, 'acme'), serverCa: acmeCa, logger: ctx.log }, {
      onIssued: e => { ctx.out.event('certificate', { ...e }) },
      onFailed: e => { ctx.out.event('certificate-failed', { ...e }) }
    })
    : undefined
  // an unreachable CA or a refused account is a startup error, before anything listens
  await acme?.start()
  const node: BeamNode = await createBeam({ ...init, start: false })
  let gateway: Gateway | undefined
  let metrics: GatewayMetricsServer | undefined
  let accessLog: WriteStream | undefined
  try {
    await node.start()
    gateway = new Gateway({
      node,
      domain,
      listen: listenAt,
      httpListen: httpAt,
      publicPort,
      names,
      allow,
      limits,
      logger: ctx.log,
      ...(certFiles != null ? { tls: { context: async () => certFiles.current.context } } : {}),
      ...(acme != null
        ? {
            tls: { context: async (name: string) => gateway?.servesHost(name) === true ? await acme.context(name) : undefined },
            acmeChallenge: (token: string) => acme.challenge(token)
          }
        : {})
    })
    await gateway.start()
    const gw = gateway
    if (certFiles != null) {
      // a renewed certificate is served without a restart; a bad pair keeps the previous one
      certFiles.on('reloaded', c => {
        ctx.log.info({ names: c.names, notAfter: c.notAfter.toISOString() }, 'certificate files changed: serving the new certificate')
        ctx.out.event('certificate-reloaded', { file: flags.tlsCert, names: c.names, notAfter: c.notAfter.toISOString() })
      })
      certFiles.on('reload-failed', e => {
        ctx.log.warn({ err: e.error }, 'certificate files changed but cannot be used (yet): still serving the previous certificate')
        ctx.out.event('certificate-reload-failed', { file: flags.tlsCert, error: e.error })
      })
      certFiles.watch()
    }
    const counters = new GatewayMetrics()
    gw.on('request', e => { counters.observe(e) })
    if (flags.accessLog != null) {
      const log = createWriteStream(flags.accessLog, { flags: 'a', mode: 0o640 })
      log.on('error', err => { ctx.log.error({ err: err.message, file: flags.accessLog }, 'access log not writable') })
      accessLog = log
      gw.on('request', e => { log.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n') })
    }
    if (metricsAt != null) {
      metrics = await serveMetrics(metricsAt.host, metricsAt.port, () => counters.render([
        { name: 'beam_gateway_shares_online', help: 'Shares registered and connected now', type: 'gauge', value: gw.onlineShares },
        { name: 'beam_gateway_names', help: 'Short names held', type: 'gauge', value: names.size },
        { name: 'beam_gateway_requests_in_flight', help: 'Visitor requests and WebSocket sessions open now', type: 'gauge', value: gw.limits.inFlight },
        { name: 'beam_gateway_certificates', help: 'ACME certificates held', type: 'gauge', value: acme?.names.length ?? 0 }
      ]))
    }
    gw.on('registered', e => { ctx.out.event('share-registered', e) })
    gw.on('unregistered', e => { ctx.out.event('share-offline', e) })
    gw.on('request', e => { ctx.out.frequentEvent('request', e) })
    const peerId = node.peerId.toString()
    const multiaddrs = node.getMultiaddrs().map(m => `${m.toString()}/p2p/${peerId}`)
    const shareAddress = multiaddrs.find(m => !m.startsWith('/ip4/127.') && !m.startsWith('/ip6/::1/')) ?? multiaddrs[0] ?? peerId
    const url = gw.url('')
    const httpAddress = gw.httpAddress
    ctx.out.event('ready', {
      peerId,
      domain,
      url,
      proto: gw.proto,
      tls: acme != null ? 'acme' : cert != null ? 'files' : null,
      listen: hostPort(gw.address.host, gw.address.port),
      httpListen: httpAddress != null ? hostPort(httpAddress.host, httpAddress.port) : null,
      multiaddrs,
      shareFlag: `--gateway ${shareAddress}`,
      names: names.size,
      allow: allow ?? null,
      limits,
      metrics: metrics != null ? `http://${hostPort(metrics.host, metrics.port)}/metrics` : null,
      runtime: { node: process.versions.node, flags: process.execArgv.filter(a => a.startsWith('--')) }
    })
    ctx.out.say([
      '',
      `beam gateway: ${url}`,
      `  peer id:   ${peerId}`,
      `  web:       ${gw.proto}://${hostPort(gw.address.host, gw.address.port)}${httpAddress != null ? ` (plain HTTP on ${hostPort(httpAddress.host, httpAddress.port)}${gw.proto === 'https' ? ', redirects to HTTPS' : ''})` : ''}`,
      `  shares at: ${gw.proto}://<label or name>.${domain}/`,
      `  beam:      ${multiaddrs.join(' ')}`,
      `  names:     ${names.size} claimed, released after ${idleDays} idle days`,
      ...(allow != null ? [`  allow:     ${allow.length} share(s) only`] : []),
      `  limits:    per share ${limits.ratePerSecond === 0 ? 'no request limit' : `${limits.ratePerSecond} requests/s`}, ${limits.bytesPerSecond === 0 ? 'no bandwidth limit' : `${limits.bytesPerSecond} bytes/s`}, ${limits.maxVisitors === 0 ? 'no cap on requests in flight' : `${limits.maxVisitors} in flight`}`,
      ...(metrics != null ? [`  metrics:   http://${hostPort(metrics.host, metrics.port)}/metrics`] : []),
      ...(acme != null ? [`  tls:       ACME (${flags.acmeDirectory ?? ''}), a certificate per share name on its first visit`] : cert != null ? [`  tls:       ${flags.tlsCert ?? ''} (${cert.names.join(', ')}; expires ${cert.notAfter.toISOString().slice(0, 10)})`] : []),
      ...(gw.proto === 'http' ? ['  note: plain HTTP (no --tls-cert or --acme-directory): put a TLS proxy in front, or give a certificate'] : []),
      ...(announce.length === 0 ? ['  note: no --announce address; shares elsewhere need this gateway\'s public beam address'] : []),
      '  a share opts in with:',
      `beam share <port> ${`--gateway ${shareAddress}`}`
    ].join('\n'))
    await untilAborted(io.signal)
    ctx.log.info({ shares: gw.onlineShares }, 'stopping gateway')
  } finally {
    certFiles?.close()
    acme?.stop()
    await metrics?.close()
    accessLog?.end()
    await gateway?.close()
    await stopWithin(node, ctx.log)
  }
}
