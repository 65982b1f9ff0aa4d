/**
 * The `connect:` section: named connections for `beam up NAME`, with their
 * target (a connect string is checked here), local port and backends.
 */
import type { Node } from 'yaml'
import { decodeConnectString, looksLikeConnectString } from '../../peer/index.ts'
import { CONNECT_KEYS, ENTRY_NAME_RE } from './schema.ts'
import type { BackendsConfig, ConnectConfig, TunnelConfig } from './schema.ts'
import { readBackendList, readStrategy } from './backends-section.ts'
import { ownEntry } from './lookup.ts'
import { emptyRecord, readDashboard, readPort, readString } from './yaml-check.ts'
import type { Reader } from './yaml-check.ts'

export function readConnect (r: Reader, node: Node | null | undefined, backends: BackendsConfig, known: readonly string[], tunnels: Record<string, TunnelConfig>): Record<string, ConnectConfig> {
  const out = emptyRecord<ConnectConfig>()
  for (const { key, keyNode, value } of r.map(node, 'connect', 'the connect section') ?? []) {
    const path = `connect.${key}`
    if (!ENTRY_NAME_RE.test(key)) {
      r.fail(keyNode, path, 'a connection name is 1-63 letters, digits, - or _, starting with a letter or digit')
      continue
    }
    const clash = ownEntry(tunnels, key)
    if (clash != null) {
      r.fail(keyNode, path, `the name '${key}' is also a tunnel (line ${clash.line}): 'beam up ${key}' would be ambiguous`)
      continue
    }
    const fields = r.map(value, path, `the settings of connection '${key}'`, CONNECT_KEYS)
    if (fields == null) continue
    const f = new Map(fields.map(e => [e.key, e.value]))
    const targetNode = f.get('target')
    let target = ''
    if (targetNode === undefined) {
      r.fail(keyNode, path, 'missing target: the connect string, peer id or alias to connect to')
    } else {
      target = readString(r, targetNode, `${path}.target`, 'a connect string, peer id or alias') ?? ''
      if (/\s/.test(target)) {
        r.fail(targetNode, `${path}.target`, 'contains spaces')
      } else if (looksLikeConnectString(target)) {
        try {
          decodeConnectString(target)
        } catch (err) {
          r.fail(targetNode, `${path}.target`, (err as Error).message)
        }
      }
    }
    const c: ConnectConfig = {
      name: key,
      target,
      backends: readBackendList(r, f.get('backends'), `${path}.backends`, backends, known),
      strategy: readStrategy(r, f.get('strategy'), `${path}.strategy`),
      line: r.lineOf(keyNode)
    }
    const lp = f.get('localPort')
    if (lp !== undefined) c.localPort = readPort(r, lp, `${path}.localPort`)
    const host = f.get('host')
    if (host !== undefined) c.host = readString(r, host, `${path}.host`, 'a local address')
    const remote = f.get('remote')
    if (remote !== undefined) c.remote = readPort(r, remote, `${path}.remote`)
    const dashboardNode = f.get('dashboard')
    const dashboard = dashboardNode !== undefined ? readDashboard(r, dashboardNode, `${path}.dashboard`) : undefined
    if (dashboard != null) c.dashboard = dashboard
    out[key] = c
  }
  return out
}

