/**
 * Stopping with the process that started beam, when that process is a
 * wrapper that does not pass its signals on.
 *
 * `npx beam …` (and `npm run beam`) is npm, a shell and beam. npm passes
 * SIGTERM and SIGINT on to the shell (@npmcli/run-script's signal manager),
 * but the shell (dash, as /bin/sh) dies of them without passing them to beam,
 * which went on running, reparented to init: a supervisor that stopped
 * `npx beam` leaked its tunnels. A process cannot ask to be told when its
 * parent dies from Node (Linux's PR_SET_PDEATHSIG is not exposed), so beam
 * looks at its parent's PID a few times a second: when it is no longer the
 * one it started under, the parent is gone, and beam stops as on SIGTERM.
 * One getppid() system call per look, on a timer that never holds the
 * process open.
 *
 * Only where beam knows its parent is such a wrapper: npm running beam's own
 * bin (its `npm_lifecycle_script` is `'beam'` under npx, `node bin/beam.js …` under `npm run`), or
 * bin/beam.js running beam as a child on an old Node (`BEAM_REEXEC=1`).
 * Elsewhere a parent that goes away is the user's business (`nohup beam … &`
 * from a shell that then exits must keep running).
 */

/** How often the parent's PID is read, in ms. */
export const PARENT_WATCH_INTERVAL = 200

/** Options of {@link watchParent}. */
export interface ParentWatchOptions {
  /** How often to look, in ms. @default {@link PARENT_WATCH_INTERVAL} */
  intervalMs?: number
  /** The parent's PID now. @default () => process.ppid */
  parentPid?: () => number
}

/** npm's script line that ran beam's own bin: `beam …` (npx) or `node bin/beam.js …` (npm run). */
const NPM_RUNS_BEAM = /^(?:\S*\/)?(?:beam|node\s+(?:\S*\/)?bin\/beam\.js)(?:\s|$)/

/** Whether the environment says beam's parent is a wrapper whose death should stop beam (see the module's comment). */
export function parentIsWrapper (env: NodeJS.ProcessEnv): boolean {
  if (env.BEAM_REEXEC === '1') return true
  // npx quotes the bin's name: `'beam'`
  return env.npm_lifecycle_script != null && NPM_RUNS_BEAM.test(env.npm_lifecycle_script.replaceAll(/['"]/g, '').trim())
}

/**
 * Calls `onGone` once, when the parent PID differs from the one at the call
 * (the parent died and the process was reparented). Returns a function that
 * stops watching.
 */
export function watchParent (onGone: () => void, options: ParentWatchOptions = {}): () => void {
  const parentPid = options.parentPid ?? (() => process.ppid)
  const first = parentPid()
  const timer = setInterval(() => {
    if (parentPid() === first) return
    clearInterval(timer)
    onGone()
  }, options.intervalMs ?? PARENT_WATCH_INTERVAL)
  timer.unref()
  return () => { clearInterval(timer) }
}
