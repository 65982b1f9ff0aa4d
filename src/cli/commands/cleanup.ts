import { Command } from 'commander'
import { readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { AddressBook } from '../../peer/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { findProcesses, isGone } from '../control.ts'
import { homePaths } from '../home.ts'
import { stopProcess } from './stop.ts'

/** Peers of peers.json not seen for this long are forgotten by `beam cleanup`, in ms (30 days). */
export const PEER_MAX_AGE = 30 * 24 * 3600 * 1000
/** Temporary files (an interrupted write's `*.tmp`) older than this are removed, in ms (1 hour: no write takes that long). */
export const TEMP_MAX_AGE = 3600 * 1000

interface CleanupFlags extends CommonFlags {
  dryRun?: boolean
}

/** `beam cleanup [--dry-run]`: stop every process of the home, remove stale sockets, old peers and left-over temporary files. */
export function cleanupCommand (io: CliIo): Command {
  const cmd = new Command('cleanup')
    .description('stop every beam process of this BEAM_HOME, remove stale control sockets, peers not seen for 30 days and left-over temporary files')
    .option('--dry-run', 'only say what would be stopped and removed')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (flags: CleanupFlags) => {
    const ctx = createContext(flags, io)
    const dry = flags.dryRun === true
    const uid = io.processIds?.uid ?? 0
    const stopped: number[] = []
    const staleSockets: string[] = []
    const skipped: Array<{ path: string, reason: string }> = []
    for (const f of await findProcesses(ctx.home, uid)) {
      if (f.status != null) {
        if (!dry && !await stopProcess(f.entry, uid)) { skipped.push({ path: f.entry.path, reason: 'did not exit in time' }); continue }
        stopped.push(f.entry.pid)
        ctx.out.say(`${dry ? 'would stop' : 'stopped'} pid ${f.entry.pid} (beam ${f.status.command}${f.status.name != null ? ` ${f.status.name}` : ''})`)
      } else if (isGone(f.error)) {
        if (!dry) await unlink(f.entry.path).catch(() => {})
        staleSockets.push(f.entry.path)
        ctx.out.say(`${dry ? 'would remove' : 'removed'} the stale control socket of pid ${f.entry.pid} (${f.entry.path})`)
      } else {
        skipped.push({ path: f.entry.path, reason: f.error?.message ?? 'unknown' })
        ctx.out.say(`left alone ${f.entry.path}: ${f.error?.message ?? ''}`)
      }
    }
    const peers = await new AddressBook(homePaths(ctx.home).addressBook).prune(Date.now() - PEER_MAX_AGE, { dryRun: dry })
    if (peers.length > 0) ctx.out.say(`${dry ? 'would forget' : 'forgot'} ${peers.length} peer(s) of peers.json not seen for ${PEER_MAX_AGE / 86_400_000} days`)
    const tempFiles = await oldTempFiles(ctx.home)
    for (const p of tempFiles) {
      if (!dry) await unlink(p).catch(() => {})
      ctx.out.say(`${dry ? 'would remove' : 'removed'} the left-over temporary file ${p}`)
    }
    if (stopped.length + staleSockets.length + peers.length + tempFiles.length === 0) ctx.out.say(`nothing to clean up in ${ctx.home}`)
    ctx.out.event('cleanup', { dryRun: dry, stopped, staleSockets, peers, tempFiles, skipped })
  })
  return cmd
}

/** `*.tmp` files in the home (an interrupted atomic write's) older than {@link TEMP_MAX_AGE}. */
async function oldTempFiles (home: string): Promise<string[]> {
  const names = await readdir(home).catch(() => [] as string[])
  const out: string[] = []
  for (const n of names) {
    if (!n.endsWith('.tmp')) continue
    const p = join(home, n)
    const st = await stat(p).catch(() => undefined)
    if (st?.isFile() === true && Date.now() - st.mtimeMs > TEMP_MAX_AGE) out.push(p)
  }
  return out
}
