import { Command, Option } from 'commander'
import { defaultBackends } from '../../backends/index.ts'
import type { AtorBackendOptions, TorBackendOptions } from '../../backends/index.ts'
import { addOutputOptions } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { anonCandidates, hostPortText, parseHostPort } from '../backend-flags.ts'
import { resolvePasswordFlags } from '../secret-input.ts'
import { availabilityHint, availabilityLine } from '../exit-codes.ts'

interface BackendsFlags extends CommonFlags {
  torControl?: string
  torPassword?: string
  torPasswordFile?: string
  atorControl?: string
  atorPassword?: string
  atorPasswordFile?: string
  anonBinary?: string
  i2pSam?: string
}

export function backendsCommand (io: CliIo): Command {
  const cmd = new Command('backends')
    .description('list the networks beam can use, with their status on this machine')
    .addOption(new Option('--tor-control <host:port>', 'Tor control port to check (IP:PORT or PORT; default 127.0.0.1:9051)').env('BEAM_TOR_CONTROL'))
    .option('--tor-password <password>', 'Tor control-port password (env BEAM_TOR_PASSWORD; visible in ps: prefer --tor-password-file)')
    .option('--tor-password-file <file>', 'read the Tor control-port password from the first line of a file (- for standard input)')
    .addOption(new Option('--ator-control <host:port>', 'ATOR (anon) control port to check (IP:PORT or PORT; default 127.0.0.1:9051)').env('BEAM_ATOR_CONTROL'))
    .option('--ator-password <password>', 'ATOR control-port password (env BEAM_ATOR_PASSWORD; visible in ps: prefer --ator-password-file)')
    .option('--ator-password-file <file>', 'read the ATOR control-port password from the first line of a file (- for standard input)')
    .addOption(new Option('--anon-binary <path>', 'the anon binary to check (default: PATH, then ~/.cache/beam/ator-1.1.3/anon)').env('BEAM_ANON_BINARY'))
    .addOption(new Option('--i2p-sam <host:port>', 'SAM bridge of the I2P router to check (IP:PORT or PORT; default 127.0.0.1:7656)').env('BEAM_I2P_SAM'))
  addOutputOptions(cmd)
  cmd.action(async (flagsIn: BackendsFlags) => {
    const flags = await resolvePasswordFlags(flagsIn, io)
    const tor: TorBackendOptions = {}
    if (flags.torControl != null) { const c = parseHostPort(flags.torControl, '--tor-control'); tor.controlHost = c.host; tor.controlPort = c.port }
    if (flags.torPassword != null) tor.controlPassword = flags.torPassword
    const ator: AtorBackendOptions = { anonBinaries: anonCandidates(flags.anonBinary, io.env) }
    if (flags.atorControl != null) { const c = parseHostPort(flags.atorControl, '--ator-control'); ator.controlHost = c.host; ator.controlPort = c.port }
    if (flags.atorPassword != null) ator.controlPassword = flags.atorPassword
    const i2p = flags.i2pSam != null ? { sam: hostPortText(parseHostPort(flags.i2pSam, '--i2p-sam')) } : {}
    const rows = await defaultBackends({ tor, ator, i2p }).status({ signal: io.signal })
    if (flags.json === true) {
      for (const { backend, availability } of rows) {
        io.stdout.write(JSON.stringify({ event: 'backend', name: backend.name, status: availability.status, reason: availability.reason ?? null, fix: availability.fix ?? null, hint: availabilityHint(backend.name, availability) ?? null, description: backend.description, addressProtocols: backend.addressProtocols }) + '\n')
      }
      return
    }
    const width = Math.max(...rows.map(r => r.backend.name.length))
    for (const { backend, availability } of rows) {
      io.stdout.write(`${backend.name.padEnd(width)}  ${availability.status.padEnd(15)}  ${availability.reason != null ? availabilityLine(backend.name, availability) : backend.description}\n`)
    }
  })
  return cmd
}
