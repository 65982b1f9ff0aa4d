import { Command } from 'commander'
import { addIdentityOptions, addNetworkOptions, addOutputOptions } from '../context.ts'
import type { CliIo } from '../context.ts'
import { addConfigOption, connectArgs, loadCliConfig, tunnelArgs } from '../config-flags.ts'
import { resolveName } from '../config/index.ts'
import { UsageError } from '../exit-codes.ts'
import { collect } from '../parse.ts'
import { beamHome } from '../home.ts'
import { runShare } from './share.ts'
import type { ShareFlags } from './share.ts'
import { runConnect } from './connect.ts'
import type { ConnectFlags } from './connect.ts'

/**
 * `beam up NAME`: start a share (`tunnels.NAME`) or a connection
 * (`connect.NAME`) of beam.config.yaml, as `beam share` / `beam connect`
 * would with the flags the entry stands for.
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
  cmd.action(async (name: string, flags: ShareFlags & ConnectFlags) => {
    const config = await loadCliConfig(flags, beamHome(io.env), io.signal)
    if (config == null) throw new UsageError(`beam up ${name}: no config file (give --config FILE, or create ${beamHome(io.env)}/beam.config.yaml)`)
    const entry = resolveName(config, name)
    if (entry.kind === 'tunnel') {
      const { ports, flags: extra } = tunnelArgs(entry.tunnel)
      await runShare(ports, { ...flags, ...extra }, io, config)
    } else {
      const { target, flags: extra } = connectArgs(entry.connect)
      await runConnect(target, { ...flags, ...extra }, io, config)
    }
  })
  return cmd
}
