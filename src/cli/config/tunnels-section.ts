/**
 * The `tunnels:` section: named shares for `beam up NAME`, with their
 * services, backends, strategy and access.
 */
import { resolve } from 'node:path'
import { isSeq } from 'yaml'
import type { Node } from 'yaml'
import { parsePeerId, parsePeerMultiaddr, parseTarget } from '../../peer/index.ts'
import { nameProblem } from '../../gateway/index.ts'
import { ACCESS_MODES, ENTRY_NAME_RE, TUNNEL_KEYS } from './schema.ts'
import type { AccessMode, BackendsConfig, ServiceConfig, TunnelConfig } from './schema.ts'
import { readBackendList, readStrategy } from './backends-section.ts'
import { describe, emptyRecord, readChoice, readDashboard, readList, readPort, readString, scalar } from './yaml-check.ts'
import type { Reader } from './yaml-check.ts'
import { ipv6BracketHint } from '../parse.ts'

/** A share's service: a port number, `"PORT"` or `"HOST:PORT"`. */
function readService (r: Reader, node: Node | null, path: string): ServiceConfig | undefined {
  const v = scalar(node)
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+\s*$/.test(v))) {
    const port = readPort(r, node, path)
    return port == null ? undefined : { port }
  }
  if (typeof v === 'string') {
    const hint = ipv6BracketHint(v)
    if (hint != null) {
      r.fail(node, path, `'${v}': ${hint}`)
      return undefined
    }
    const m = /^\[([0-9a-fA-F:.]+)\]:(.+)$/.exec(v.trim()) ?? /^([^:\s]+):([^:]+)$/.exec(v.trim())
    if (m != null) {
      const port = Number(m[2])
      if (Number.isInteger(port) && port >= 1 && port <= 65535) return { host: m[1] ?? '', port }
      r.fail(node, path, `'${m[2] ?? ''}' is not a port (1-65535)`)
      return undefined
    }
  }
  r.fail(node, path, `${describe(node)} is not a port (1-65535) or host:port`)
  return undefined
}

/** A tunnel's gateway keys: `gateway` (an address, as --gateway), `gatewayName`, `httpAuth`, `httpToken`. */
function readGateway (r: Reader, f: Map<string, Node | null>, path: string): Pick<TunnelConfig, 'gateway' | 'gatewayName' | 'httpAuth' | 'httpToken'> {
  const out: Pick<TunnelConfig, 'gateway' | 'gatewayName' | 'httpAuth' | 'httpToken'> = {}
  const gwNode = f.get('gateway')
  if (gwNode !== undefined) {
    const text = readString(r, gwNode, `${path}.gateway`, 'a gateway address (its multiaddr with /p2p/<peer-id>, or its peer id)')
    if (text != null) {
      try {
        if (text.startsWith('/')) parsePeerMultiaddr(text)
        else parseTarget(text)
        out.gateway = text
      } catch {
        r.fail(gwNode, `${path}.gateway`, `'${text}' is not a gateway address (its multiaddr with /p2p/<peer-id>, or its peer id)`)
      }
    }
  }
  const nameNode = f.get('gatewayName')
  if (nameNode !== undefined) {
    const name = readString(r, nameNode, `${path}.gatewayName`, 'a short name')
    const problem = name != null ? nameProblem(name) : undefined
    if (problem != null) r.fail(nameNode, `${path}.gatewayName`, problem)
    else if (name != null) out.gatewayName = name
  }
  const authNode = f.get('httpAuth')
  if (authNode !== undefined) {
    const auth = readString(r, authNode, `${path}.httpAuth`, 'user:password')
    if (auth != null && !auth.includes(':')) r.fail(authNode, `${path}.httpAuth`, 'expected user:password')
    else if (auth != null) out.httpAuth = auth
  }
  const tokenNode = f.get('httpToken')
  if (tokenNode !== undefined) {
    const token = readString(r, tokenNode, `${path}.httpToken`, 'a token')
    if (token != null) out.httpToken = token
  }
  if (gwNode === undefined) {
    for (const [k, n] of [['gatewayName', nameNode], ['httpAuth', authNode], ['httpToken', tokenNode]] as const) {
      if (n !== undefined) r.fail(n, `${path}.${k}`, 'only goes with gateway: (the gateway that serves this tunnel to web visitors)')
    }
  }
  return out
}

/** A tunnel's key files, `identity:` and `secret:`: paths, relative ones taken from `baseDir` (the config file's directory). */
function readKeyFiles (r: Reader, f: Map<string, Node | null>, path: string, baseDir: string): { identity?: string, secret?: string } {
  const out: { identity?: string, secret?: string } = {}
  for (const key of ['identity', 'secret'] as const) {
    const node = f.get(key)
    if (node === undefined) continue
    const file = readString(r, node, `${path}.${key}`, 'a file path')
    if (file != null) out[key] = resolve(baseDir, file)
  }
  return out
}

export function readTunnels (r: Reader, node: Node | null | undefined, backends: BackendsConfig, known: readonly string[], baseDir: string): Record<string, TunnelConfig> {
  const out = emptyRecord<TunnelConfig>()
  for (const { key, keyNode, value } of r.map(node, 'tunnels', 'the tunnels section') ?? []) {
    const path = `tunnels.${key}`
    if (!ENTRY_NAME_RE.test(key)) {
      r.fail(keyNode, path, 'a tunnel name is 1-63 letters, digits, - or _, starting with a letter or digit')
      continue
    }
    const fields = r.map(value, path, `the settings of tunnel '${key}'`, TUNNEL_KEYS)
    if (fields == null) continue
    const f = new Map(fields.map(e => [e.key, e.value]))
    const services: ServiceConfig[] = []
    const portNode = f.get('port')
    const portsNode = f.get('ports')
    if (portNode !== undefined && portsNode !== undefined) {
      r.fail(portsNode, `${path}.ports`, 'use either port or ports, not both')
    } else if (portNode !== undefined) {
      const s = readService(r, portNode, `${path}.port`)
      if (s != null) services.push(s)
    } else if (portsNode !== undefined) {
      const items = readList(r, portsNode, `${path}.ports`, 'ports') ?? []
      if (portsNode != null && isSeq(portsNode) && items.length === 0) r.fail(portsNode, `${path}.ports`, 'is empty: list at least one port')
      items.forEach((item, i) => {
        const s = readService(r, item, `${path}.ports[${i}]`)
        if (s == null) return
        if (services.some(o => o.port === s.port && o.host === s.host)) r.fail(item, `${path}.ports[${i}]`, `port ${s.port} is listed twice`)
        else services.push(s)
      })
    } else {
      r.fail(keyNode, path, 'missing port (or ports): the local port to share')
    }
    const hostNode = f.get('host')
    if (hostNode !== undefined) {
      const host = readString(r, hostNode, `${path}.host`, 'a host name or address')
      if (host != null) {
        for (const s of services) {
          if (s.host != null) r.fail(hostNode, `${path}.host`, `conflicts with '${s.host}:${s.port}': give the host in one place`)
          else s.host = host
        }
      }
    }
    const allowNode = f.get('allow')
    const accessNode = f.get('access')
    let access: AccessMode = allowNode !== undefined ? 'allow' : 'secret'
    if (accessNode !== undefined) access = readChoice(r, accessNode, `${path}.access`, ACCESS_MODES) ?? access
    const allow: string[] = []
    if (allowNode !== undefined) {
      if (access !== 'allow') r.fail(allowNode, `${path}.allow`, `only goes with access: allow (this tunnel has access: ${access})`)
      const items = readList(r, allowNode, `${path}.allow`, 'peer ids') ?? []
      items.forEach((item, i) => {
        const q = `${path}.allow[${i}]`
        const id = readString(r, item, q, 'a peer id')
        if (id == null) return
        try {
          allow.push(parsePeerId(id).toString())
        } catch {
          r.fail(item, q, `'${id}' is not a peer id (12D3Koo…)`)
        }
      })
    }
    if (access === 'allow' && allowNode === undefined) r.fail(accessNode ?? keyNode, `${path}.allow`, 'access: allow needs an allow: list of peer ids')
    if (allowNode != null && isSeq(allowNode) && allowNode.items.length === 0) r.fail(allowNode, `${path}.allow`, 'is empty: list the peer ids that may connect')
    const web = readGateway(r, f, path)
    const tunnel: TunnelConfig = {
      ...web,
      name: key,
      services,
      backends: readBackendList(r, f.get('backends'), `${path}.backends`, backends, known),
      strategy: readStrategy(r, f.get('strategy'), `${path}.strategy`),
      access,
      allow,
      ...readKeyFiles(r, f, path, baseDir),
      line: r.lineOf(keyNode)
    }
    const dashboardNode = f.get('dashboard')
    const dashboard = dashboardNode !== undefined ? readDashboard(r, dashboardNode, `${path}.dashboard`) : undefined
    if (dashboard != null) tunnel.dashboard = dashboard
    out[key] = tunnel
  }
  return out
}
