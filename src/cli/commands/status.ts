import { Command } from 'commander'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { findProcesses, isGone, select } from '../control.ts'
import { formatStatus } from '../format-status.ts'

/** `beam status [name|pid]`: what every beam process of this home is doing. */
export function statusCommand (io: CliIo): Command {
  const cmd = new Command('status')
    .description('show every beam process of this BEAM_HOME: tunnels, peers, paths, bytes')
    .argument('[process]', 'only this one: its name or pid')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (selector: string | undefined, flags: CommonFlags) => {
    const ctx = createContext(flags, io)
    const found = await findProcesses(ctx.home, io.processIds?.uid ?? 0, { removeStale: true })
    for (const f of found) {
      if (f.status != null || selector != null) continue
      if (isGone(f.error)) ctx.out.say(f.error?.message ?? '')
      else ctx.log.warn(`skipped ${f.entry.path}: ${f.error?.message ?? ''}`)
    }
    const chosen = select(found, selector, ctx.home).flatMap(f => f.status != null ? [f.status] : [])
    ctx.out.event('status', { processes: chosen })
    if (ctx.out.json) return
    if (chosen.length === 0) io.stdout.write(`no beam process runs with BEAM_HOME ${ctx.home}\n`)
    else io.stdout.write(chosen.map(formatStatus).join('\n\n') + '\n')
  })
  return cmd
}
