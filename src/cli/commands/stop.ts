import { Command } from 'commander'
import { stat } from 'node:fs/promises'
import { controlRequest } from '../../peer/index.ts'
import type { ControlSocketEntry } from '../../peer/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { findProcesses, select } from '../control.ts'
import { UsageError } from '../exit-codes.ts'

/** How long `beam stop` waits for a process to exit after asking, in ms (a process stops within 2 s of a SIGTERM). */
export const STOP_WAIT = 5000

/**
 * Ask a process to stop through its socket (as SIGTERM would) and wait, up
 * to {@link STOP_WAIT}, until its socket file is gone: the process removes
 * it as it exits. Returns whether it did.
 */
export async function stopProcess (entry: ControlSocketEntry, uid: number): Promise<boolean> {
  await controlRequest(entry, { op: 'stop' }, { uid })
  const deadline = Date.now() + STOP_WAIT
  while (Date.now() < deadline) {
    if (!await stat(entry.path).then(() => true, () => false)) return true
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return false
}

interface StopFlags extends CommonFlags {
  all?: boolean
}

/** `beam stop <name|pid|--all>`. */
export function stopCommand (io: CliIo): Command {
  const cmd = new Command('stop')
    .description('stop a beam process of this BEAM_HOME gracefully (as Ctrl-C or SIGTERM would)')
    .argument('[process]', 'its name or pid')
    .option('--all', 'stop every beam process of this BEAM_HOME')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (selector: string | undefined, flags: StopFlags) => {
    if ((selector == null) === (flags.all !== true)) throw new UsageError('beam stop needs a process name or pid, or --all')
    const ctx = createContext(flags, io)
    const uid = io.processIds?.uid ?? 0
    const chosen = select(await findProcesses(ctx.home, uid, { removeStale: true }), selector, ctx.home)
    if (chosen.length === 0) ctx.out.say(`no beam process runs with BEAM_HOME ${ctx.home}`)
    for (const f of chosen) {
      const exited = await stopProcess(f.entry, uid)
      const what = `pid ${f.entry.pid}${f.status != null ? ` (beam ${f.status.command}${f.status.name != null ? ` ${f.status.name}` : ''})` : ''}`
      ctx.out.event('stopped', { pid: f.entry.pid, exited })
      ctx.out.say(exited ? `stopped ${what}` : `asked ${what} to stop; it has not exited after ${STOP_WAIT / 1000} s`)
    }
  })
  return cmd
}
