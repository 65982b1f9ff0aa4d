import { Command } from 'commander'
import { defaultBackends } from '../../backends/index.ts'
import { addOutputOptions } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'

export function backendsCommand (io: CliIo): Command {
  const cmd = new Command('backends')
    .description('list the networks beam can use, with their status on this machine')
  addOutputOptions(cmd)
  cmd.action(async (flags: CommonFlags) => {
    const rows = await defaultBackends().status({ signal: io.signal })
    if (flags.json === true) {
      for (const { backend, availability } of rows) {
        io.stdout.write(JSON.stringify({ event: 'backend', name: backend.name, status: availability.status, reason: availability.reason ?? null, description: backend.description, addressProtocols: backend.addressProtocols }) + '\n')
      }
      return
    }
    const width = Math.max(...rows.map(r => r.backend.name.length))
    for (const { backend, availability } of rows) {
      io.stdout.write(`${backend.name.padEnd(width)}  ${availability.status.padEnd(15)}  ${availability.reason ?? backend.description}\n`)
    }
  })
  return cmd
}
