import { Command } from 'commander'
import { spawn } from 'node:child_process'
import { addOutputOptions, createContext, untilAborted } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { parsePort } from '../parse.ts'
import { homeSource, startDashboard } from '../dashboard/index.ts'

interface DashboardFlags extends CommonFlags {
  port?: string
  open?: boolean
}

/** The command that opens a URL in the desktop's browser, by platform. */
function opener (platform: NodeJS.Platform, url: string): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]]
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', url]]
  return ['xdg-open', [url]]
}

/**
 * `beam dashboard`: one page for every beam process of this BEAM_HOME, read
 * through their control sockets; runs until Ctrl-C.
 */
export function dashboardCommand (io: CliIo): Command {
  const cmd = new Command('dashboard')
    .description('serve one web page on 127.0.0.1 for every beam process of this BEAM_HOME; prints its URL')
    .option('--port <port>', 'port on 127.0.0.1 (default: a free one)')
    .option('--open', 'also open the page in the desktop\'s browser')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (flags: DashboardFlags) => {
    const port = flags.port != null ? parsePort(flags.port, '--port') : 0
    const ctx = createContext(flags, io)
    const uid = io.processIds?.uid ?? 0
    const d = await startDashboard({ source: homeSource(ctx.home, uid), title: `beam dashboard (${ctx.home})`, log: ctx.log.child({ component: 'dashboard' }), port })
    try {
      ctx.out.event('dashboard', { url: d.url, port: d.port, home: ctx.home })
      ctx.out.say(`beam dashboard: ${d.url}  (Ctrl-C to stop)`)
      if (flags.open === true) {
        const [bin, args] = opener(process.platform, d.url)
        try {
          const child = spawn(bin, args, { detached: true, stdio: 'ignore' })
          child.on('error', err => { ctx.log.warn(`could not open a browser (${bin}: ${err.message}); open the URL yourself`) })
          child.unref()
        } catch (err) {
          ctx.log.warn(`could not open a browser (${bin}: ${(err as Error).message}); open the URL yourself`)
        }
      }
      await untilAborted(io.signal)
    } finally {
      await d.close()
    }
  })
  return cmd
}
