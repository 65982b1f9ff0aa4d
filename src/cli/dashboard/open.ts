import { Option } from 'commander'
import type { Command } from 'commander'
import type { Context } from '../context.ts'
import type { ControlHandle } from '../control.ts'
import { parsePort } from '../parse.ts'
import type { DashboardConfig } from '../config/index.ts'
import { startDashboard } from './server.ts'
import { localSource } from './source.ts'
import { LogRing } from '../../peer/index.ts'

/** Whether and where a share or connect serves its dashboard: off, or a port on 127.0.0.1 (0: a free one). */
export type DashboardSetting = { enabled: false } | { enabled: true, port: number }

/** `--dashboard [port]` and `--no-dashboard` (share, connect, up). */
export function addDashboardOptions (cmd: Command): Command {
  return cmd
    .addOption(new Option('--dashboard [port]', 'serve the local web dashboard on 127.0.0.1 (default: on, a free port; its URL, with a token, is printed)'))
    .addOption(new Option('--no-dashboard', 'serve no web dashboard'))
}

/**
 * The dashboard flags, else the config file's `dashboard:` (already
 * checked), as a setting: on with a free port unless `--no-dashboard` or
 * `dashboard: false`; `--dashboard PORT` or `dashboard: PORT` pins the port
 * (1-65535). A bare `--dashboard` turns it on with the file's port, if any.
 */
export function dashboardSetting (flag: boolean | string | undefined, file?: DashboardConfig): DashboardSetting {
  if (flag === false) return { enabled: false }
  if (typeof flag === 'string') return { enabled: true, port: parsePort(flag, '--dashboard port') }
  if (file === false) return flag === true ? { enabled: true, port: 0 } : { enabled: false }
  return { enabled: true, port: typeof file === 'number' ? file : 0 }
}

/**
 * Serve this process's dashboard (what its control socket's status shows,
 * its log lines, a share's connect string) and put its URL into the
 * status. With a free port a failure is a warning (the tunnel matters
 * more); a port the user named that cannot be bound is an error. Returns
 * its URL and how to close it, or undefined when off or failed.
 */
export async function openDashboard (ctx: Context, control: ControlHandle, setting: DashboardSetting, title: string, connect: () => string | null = () => null): Promise<{ url: string, close: () => Promise<void> } | undefined> {
  if (!setting.enabled) return undefined
  const log = ctx.log.child({ component: 'dashboard' })
  try {
    const d = await startDashboard({ source: localSource(control.tracker, ctx.logs ?? new LogRing(), connect), title, log, port: setting.port })
    control.tracker.setDashboard(d.url)
    log.debug({ port: d.port }, 'dashboard listening')
    return { url: d.url, close: d.close }
  } catch (err) {
    if (setting.port !== 0) throw err
    ctx.log.warn({ err: (err as Error).message }, `no dashboard: ${(err as Error).message}`)
    return undefined
  }
}
