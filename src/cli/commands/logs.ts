import { Command } from 'commander'
import { controlRequest } from '../../peer/index.ts'
import type { LogEntry } from '../../peer/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { findProcesses, select } from '../control.ts'
import { UsageError } from '../exit-codes.ts'
import { parseDuration } from '../parse.ts'

interface LogsFlags extends CommonFlags {
  follow?: boolean
  since?: string
}

/**
 * `--since`: a duration back from `now` (`90s`, `10m`, `2h`, `1d`) or a
 * date and time (ISO 8601, e.g. 2026-12-06T21:00:00Z). Returns ms since the epoch.
 */
export function parseSince (text: string, now: number): number {
  const t = text.trim()
  if (/^\d+(\.\d+)?(ms|s|m|h|d)?$/.test(t)) return now - parseDuration(t, '--since')
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const at = Date.parse(t)
    if (Number.isFinite(at)) return at
  }
  throw new UsageError(`invalid --since '${text}': expected a duration such as 10m or 2h, or a date such as 2026-12-06T21:00:00Z`)
}

const LEVELS = new Map([[10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO'], [40, 'WARN'], [50, 'ERROR'], [60, 'FATAL']])

/** One kept pino line for people: `HH:MM:SS LEVEL [component] message`. */
export function formatLogLine (entry: LogEntry): string {
  let parsed: { time?: number, level?: number, component?: string, msg?: string } = {}
  try { parsed = JSON.parse(entry.line) as typeof parsed } catch { return entry.line }
  const time = new Date(parsed.time ?? entry.time).toISOString().slice(11, 19)
  const level = LEVELS.get(parsed.level ?? 30) ?? String(parsed.level)
  return `${time} ${level.padEnd(5)} ${parsed.component != null ? `[${parsed.component}] ` : ''}${parsed.msg ?? ''}`
}

/** `beam logs [name|pid] [-f] [--since 10m]`: the recent log lines of running processes, through their control sockets. */
export function logsCommand (io: CliIo): Command {
  const cmd = new Command('logs')
    .description('print the recent log lines of the beam processes of this BEAM_HOME (all, or one by name or pid)')
    .argument('[process]', 'only this one: its name or pid')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C (or until the processes exit)')
    .option('--since <time>', 'only lines from this long ago (10m, 2h, 1d) or since this time (2026-12-06T21:00:00Z)')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (selector: string | undefined, flags: LogsFlags) => {
    const since = flags.since != null ? parseSince(flags.since, Date.now()) : undefined
    const ctx = createContext(flags, io)
    const uid = io.processIds?.uid ?? 0
    const chosen = select(await findProcesses(ctx.home, uid, { removeStale: true }), selector, ctx.home)
    if (chosen.length === 0) { ctx.out.say(`no beam process runs with BEAM_HOME ${ctx.home}`); return }
    const several = chosen.length > 1
    const print = (pid: number, e: LogEntry): void => {
      if (ctx.out.json) {
        let line: unknown = e.line
        try { line = JSON.parse(e.line) } catch {}
        ctx.out.event('log', { pid, time: new Date(e.time).toISOString(), line })
      } else {
        io.stdout.write(`${several ? `[${pid}] ` : ''}${formatLogLine(e)}\n`)
      }
    }
    const follow = flags.follow === true
    await Promise.all(chosen.map(async f => {
      const pid = f.entry.pid
      await controlRequest(f.entry, { op: 'logs', ...(since != null ? { since } : {}), follow }, {
        uid,
        ...(follow ? { signal: io.signal, onLog: (e: LogEntry) => { print(pid, e) } } : {}),
        // the kept lines come in the first answer: print them before any followed line
        onFirst: (first) => { if ('logs' in first) for (const e of first.logs) print(pid, e) }
      })
    }))
  })
  return cmd
}
