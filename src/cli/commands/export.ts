import { Command } from 'commander'
import { readFile, writeFile } from 'node:fs/promises'
import { parseIdentity } from '../../peer/index.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { beamHome } from '../home.ts'
import { UsageError } from '../exit-codes.ts'
import { getTunnel } from '../config/index.ts'
import { addConfigOption, loadCliConfig } from '../settings/index.ts'
import { seal } from '../sealed-file.ts'
import { entryOf, tunnelKeyFiles } from '../tunnel-transfer.ts'
import type { TunnelExport } from '../tunnel-transfer.ts'
import { readPassphrase } from '../passphrase.ts'

interface ExportFlags extends CommonFlags {
  config?: string
  output?: string
  passphraseFile?: string
}

/**
 * `beam export NAME`: a named tunnel of beam.config.yaml with the identity
 * and access secret it runs with, sealed with a passphrase into one file for
 * `beam import` on another machine.
 */
export function exportCommand (io: CliIo): Command {
  const cmd = new Command('export')
    .description('write a named tunnel (tunnels.NAME of beam.config.yaml) with its identity and access secret into a file sealed with a passphrase, for beam import')
    .argument('<name>', 'a name under tunnels: in the config file')
    .option('-o, --output <file>', 'the file to write (default: NAME.beam-tunnel here); never overwritten')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of a file (- for standard input; default: $BEAM_PASSPHRASE)')
  addConfigOption(cmd)
  addOutputOptions(cmd)
  cmd.action(async (name: string, flags: ExportFlags) => {
    const ctx = createContext(flags, io)
    const config = await loadCliConfig(flags, beamHome(io.env), io.signal)
    if (config == null) throw new UsageError(`beam export ${name}: no config file (give --config FILE, or create ${beamHome(io.env)}/beam.config.yaml)`)
    const tunnel = getTunnel(config, name)
    const files = tunnelKeyFiles(ctx.home, tunnel)
    let identity: string
    try {
      identity = await readFile(files.identity, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`tunnel ${name} has no identity yet (${files.identity}): start it once with beam up ${name}`)
      throw err
    }
    const peerId = peerIdFromPrivateKey(parseIdentity(identity, files.identity)).toString()
    const secret = await readFile(files.secret, 'utf8').then(t => t.trim(), () => null)
    if (tunnel.access === 'secret' && secret == null) ctx.log.warn(`tunnel ${name} has no access secret yet (${files.secret}): the importing machine makes a new one, so connect strings of this machine will not work there`)
    const passphrase = await readPassphrase(flags.passphraseFile, io, { forNewFile: true })
    const payload: TunnelExport = { kind: 'beam-tunnel', version: 1, name, entry: entryOf(tunnel), identity, secret: tunnel.access === 'secret' ? secret : null }
    const output = flags.output ?? `${name}.beam-tunnel`
    const sealed = await seal(new TextEncoder().encode(JSON.stringify(payload)), passphrase)
    try {
      await writeFile(output, sealed, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${output} exists already: give another --output (an export is never overwritten)`)
      throw new UsageError(`cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    ctx.out.event('exported', { name, file: output, peerId, backends: tunnel.backends, secret: payload.secret != null })
    ctx.out.say(`beam export: tunnel ${name} (peer id ${peerId}) written to ${output}, sealed with the passphrase. On the other machine: beam import ${output}`)
    ctx.log.warn('the file holds the tunnel\'s private key: whoever has it and the passphrase can run the share as this peer id; delete it once imported')
  })
  return cmd
}
