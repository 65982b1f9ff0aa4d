import { Command, CommanderError } from 'commander'
import type { CliIo } from './context.ts'
import { shareCommand } from './commands/share.ts'
import { connectCommand } from './commands/connect.ts'
import { idCommand } from './commands/id.ts'
import { demoCommand } from './commands/demo.ts'
import { backendsCommand } from './commands/backends.ts'
import { relayCommand } from './commands/relay.ts'
import { gatewayCommand } from './commands/gateway.ts'
import { doctorCommand } from './commands/doctor.ts'
import { aliasCommand } from './commands/alias.ts'
import { exportCommand } from './commands/export.ts'
import { importCommand } from './commands/import.ts'
import { migrateCommand } from './commands/migrate.ts'
import { upCommand } from './commands/up.ts'
import { benchmarkCommand } from './commands/benchmark.ts'
import { statusCommand } from './commands/status.ts'
import { logsCommand } from './commands/logs.ts'
import { stopCommand } from './commands/stop.ts'
import { cleanupCommand } from './commands/cleanup.ts'
import { configCommand } from './commands/config.ts'
import { dashboardCommand } from './commands/dashboard.ts'
import { classify, errorLine, ExitCode } from './exit-codes.ts'

export const VERSION = '0.1.0'

/** Build the `beam` command tree. Nothing here touches `process`. */
export function createProgram (io: CliIo): Command {
  const program = new Command('beam')
    .description('peer-to-peer TCP tunnels addressed by public key: direct when possible, relayed when not')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
  for (const cmd of [shareCommand(io), connectCommand(io), upCommand(io), relayCommand(io), gatewayCommand(io), doctorCommand(io), benchmarkCommand(io), aliasCommand(io), exportCommand(io), importCommand(io), migrateCommand(io), statusCommand(io), logsCommand(io), stopCommand(io), cleanupCommand(io), configCommand(io), dashboardCommand(io), idCommand(io), backendsCommand(io), demoCommand(io)]) {
    program.addCommand(cmd)
  }
  const configure = (c: Command): void => {
    c.exitOverride()
    c.configureOutput({
      writeOut: s => { io.stdout.write(s) },
      writeErr: s => { io.stderr.write(s) },
      outputError: (s, write) => { write(`beam: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) }
    })
    c.commands.forEach(configure)
  }
  configure(program)
  return program
}

/**
 * `beam 3000 --tor` is short for `beam share 3000 --tor`: a first argument
 * that is a port (or HOST:PORT) names the default command, share.
 */
export function withDefaultCommand (argv: string[]): string[] {
  const first = argv[0]
  if (first != null && /^(\d{1,5}|[^-:\s][^:\s]*:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5})$/.test(first)) return ['share', ...argv]
  return argv
}

/**
 * Run the CLI; returns the exit code. Errors become one line on stderr (and an
 * `error` event with --json), never a stack trace unless BEAM_DEBUG is set.
 */
export async function runCli (argvIn: string[], io: CliIo): Promise<number> {
  const argv = withDefaultCommand(argvIn)
  const json = argv.includes('--json')
  const program = createProgram(io)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return ExitCode.OK
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' || err.exitCode === 0) return ExitCode.OK
      if (json) io.stdout.write(JSON.stringify({ event: 'error', code: 'usage', message: err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ') }) + '\n')
      return ExitCode.USAGE
    }
    // interrupted while starting (dialling, probing): a requested stop, not a failure
    if (io.signal.aborted) return ExitCode.OK
    const { exit, code } = classify(err)
    const message = errorLine(err)
    if (json) io.stdout.write(JSON.stringify({ event: 'error', code, message }) + '\n')
    io.stderr.write(`beam: ${message}\n`)
    if (exit === ExitCode.INTERNAL || io.env.BEAM_DEBUG === '1') {
      if (io.env.BEAM_DEBUG === '1' && err instanceof Error && err.stack != null) io.stderr.write(err.stack + '\n')
      else if (exit === ExitCode.INTERNAL) io.stderr.write('beam: this is a bug; run with BEAM_DEBUG=1 for details and report it\n')
    }
    return exit
  }
}
