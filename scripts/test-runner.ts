/**
 * Runs test stages one after the other under one time budget: prints
 * `stage <name>: <seconds> s` after each, stops at the first failure, and
 * fails when the total passes the budget. A stage still running when the
 * budget runs out is stopped (SIGTERM to its process group, SIGKILL 30 s
 * later), so a hung stage cannot hold a CI run forever. scripts/test.ts (the
 * `npm test` entry) lists beam's stages; the runner knows nothing of them.
 */
import { spawn } from 'node:child_process'

export interface Stage {
  /** Short name printed in `stage <name>: …`. */
  name: string
  /** Program and arguments (no shell). */
  cmd: string[]
}

export interface StageResult {
  name: string
  seconds: number
  /** Exit code; null when killed by a signal. */
  code: number | null
  /** Stopped because the budget ran out. */
  timedOut: boolean
}

export interface RunStagesOptions {
  /** Seconds the whole run may take. */
  budgetS: number
  /**
   * Environment of the stages.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv
  /**
   * Working directory of the stages.
   * @default process.cwd()
   */
  cwd?: string
  /**
   * Where the stage lines go.
   * @default process.stdout.write
   */
  write?: (line: string) => void
  /**
   * How long a stage gets between SIGTERM and SIGKILL once the budget is out.
   * @default 30000
   */
  killGraceMs?: number
}

export interface RunStagesResult {
  ok: boolean
  totalS: number
  stages: StageResult[]
  /** Why the run failed, in one line; '' when it passed. */
  failure: string
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10

async function runStage (stage: Stage, deadline: number, options: RunStagesOptions): Promise<StageResult> {
  const started = Date.now()
  const [cmd, ...args] = stage.cmd
  if (cmd == null) throw new Error(`stage ${stage.name} has no command`)
  // its own process group, so that a stage out of time is stopped with its children
  const child = spawn(cmd, args, { stdio: 'inherit', env: options.env ?? process.env, cwd: options.cwd, detached: true })
  let timedOut = false
  let killTimer: NodeJS.Timeout | undefined
  const signalGroup = (sig: NodeJS.Signals): void => {
    try { if (child.pid != null) process.kill(-child.pid, sig) } catch { /* gone */ }
  }
  const budgetTimer = setTimeout(() => {
    timedOut = true
    signalGroup('SIGTERM')
    killTimer = setTimeout(() => { signalGroup('SIGKILL') }, options.killGraceMs ?? 30_000)
  }, Math.max(0, deadline - Date.now()))
  // the stage is not in the terminal's foreground group: pass Ctrl-C and
  // termination on (the runner then fails with the stage)
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  const forward = (sig: NodeJS.Signals): void => { signalGroup(sig) }
  for (const sig of forwarded) process.on(sig, forward)
  const code = await new Promise<number | null>(resolve => {
    child.once('error', () => { resolve(127) })
    child.once('exit', (c) => { resolve(c) })
  })
  clearTimeout(budgetTimer)
  clearTimeout(killTimer)
  for (const sig of forwarded) process.off(sig, forward)
  return { name: stage.name, seconds: seconds(Date.now() - started), code, timedOut }
}

/** Runs `stages` in order within `options.budgetS` seconds; see the module comment. */
export async function runStages (stages: Stage[], options: RunStagesOptions): Promise<RunStagesResult> {
  const write = options.write ?? ((line: string) => { process.stdout.write(line) })
  const started = Date.now()
  const deadline = started + options.budgetS * 1000
  const results: StageResult[] = []
  let failure = ''
  for (const stage of stages) {
    write(`\n== stage ${stage.name}: ${stage.cmd.join(' ')}\n`)
    const r = await runStage(stage, deadline, options)
    results.push(r)
    write(`stage ${r.name}: ${r.seconds} s${r.code === 0 ? '' : r.timedOut ? ' (stopped: out of time)' : ` (failed, exit ${r.code ?? 'by signal'})`}\n`)
    if (r.timedOut) { failure = `stage ${r.name} was stopped: the run passed its budget of ${options.budgetS} s`; break }
    if (r.code !== 0) { failure = `stage ${r.name} failed (exit ${r.code ?? 'by signal'})`; break }
  }
  const totalS = seconds(Date.now() - started)
  if (failure === '' && totalS > options.budgetS) failure = `the run took ${totalS} s, more than its budget of ${options.budgetS} s`
  write(`\n${results.map(r => `stage ${r.name}: ${r.seconds} s`).join('\n')}\ntotal: ${totalS} s of a budget of ${options.budgetS} s${failure === '' ? '' : `: FAILED, ${failure}`}\n`)
  return { ok: failure === '', totalS, stages: results, failure }
}
