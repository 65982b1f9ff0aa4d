import { runCli } from './program.ts'
import { ExitCode } from './exit-codes.ts'

/**
 * Process entry: the only place with process.exit and signal handlers.
 * SIGINT/SIGTERM abort the running command (it closes listeners, resets open
 * streams and exits 0); a second signal exits at once.
 */
const controller = new AbortController()
let signals = 0
const onSignal = (): void => {
  signals++
  if (signals > 1) process.exit(ExitCode.INTERRUPTED)
  controller.abort()
  // whatever happens, never linger more than 2 s after the first signal
  setTimeout(() => { process.exit(ExitCode.OK) }, 1900).unref()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
process.on('SIGHUP', onSignal)
process.on('unhandledRejection', (err) => {
  process.stderr.write(`beam: internal error: ${err instanceof Error ? err.message : String(err)}\n`)
  if (process.env.BEAM_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
})

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
  stderrIsTTY: process.stderr.isTTY === true
})
process.exit(code)
