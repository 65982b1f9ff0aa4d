import { Command } from 'commander'
import { addIdentityOptions, addLogFileOptions, addNetworkOptions, addOutputOptions } from '../context.ts'
import type { CliIo } from '../context.ts'
import { addConfigOption, loadCliConfig } from '../settings/index.ts'
import type { ConnectFlags, ShareFlags } from '../settings/index.ts'
import { resolveName } from '../config/index.ts'
import { UsageError } from '../exit-codes.ts'
import { collect } from '../parse.ts'
import { beamHome } from '../home.ts'
import { runShare } from './share.ts'
import { runConnect } from './connect.ts'

/**
 * `beam up NAME`: start a share (`tunnels.NAME`) or a connection
 * (`connect.NAME`) of beam.config.yaml, as `beam share` / `beam connect`
 * would: the entry's typed values take the place of their flags.
 */
export function upCommand (io: CliIo): Command {
  const cmd = new Command('up')
    .description('start a named share or connection of beam.config.yaml (tunnels.NAME or connect.NAME)')
    .argument('<name>', 'a name under tunnels: or connect: in the config file')
    .option('--listen <multiaddr>', 'libp2p address to listen on, repeatable (default: as beam share / beam connect)', collect)
  addConfigOption(cmd)
  addIdentityOptions(cmd)
  addNetworkOptions(cmd)
  addOutputOptions(cmd)
  addLogFileOptions(cmd)
  cmd.action(async (name: string, flags: ShareFlags & ConnectFlags) => {
    const config = await loadCliConfig(flags, beamHome(io.env), io.signal)
    if (config == null) throw new UsageError(`beam up ${name}: no config file (give --config FILE, or create ${beamHome(io.env)}/beam.config.yaml)`)
    const entry = resolveName(config, name)
    if (entry.kind === 'tunnel') await runShare({ tunnel: entry.tunnel }, flags, io, config)
    else await runConnect(entry.connect.target, flags, io, config, entry.connect)
  })
  return cmd
}
