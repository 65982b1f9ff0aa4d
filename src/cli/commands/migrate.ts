import { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseIdentity } from '../../peer/index.ts'
import { defaultBackends } from '../../backends/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { beamHome } from '../home.ts'
import { UsageError } from '../exit-codes.ts'
import { getTunnel } from '../config/index.ts'
import { addConfigOption, loadCliConfig } from '../settings/index.ts'
import { splitList } from '../parse.ts'
import { tunnelKeyFiles, writeTunnelEntry } from '../tunnel-transfer.ts'

interface MigrateFlags extends CommonFlags {
  config?: string
  backends?: string
}

/** The peer id in an identity file, or undefined when it does not exist yet. */
async function peerIdIn (file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  return text != null ? peerIdFromPrivateKey(parseIdentity(text, file)).toString() : undefined
}

/**
 * `beam migrate NAME --backends tor,direct`: rewrite the networks of a named
 * tunnel in the config file, and say what that does to its identity.
 */
export function migrateCommand (io: CliIo): Command {
  const cmd = new Command('migrate')
    .description('rewrite the networks of a named tunnel (tunnels.NAME of beam.config.yaml), and say whether its peer id changes')
    .argument('<name>', 'a name under tunnels: in the config file')
    .requiredOption('--backends <list>', 'the networks it runs on from now on, comma-separated in order, e.g. tor,direct')
  addConfigOption(cmd)
  addOutputOptions(cmd)
  cmd.action(async (name: string, flags: MigrateFlags) => {
    const ctx = createContext(flags, io)
    const backends = splitList(flags.backends)
    if (backends.length === 0) throw new UsageError('--backends is empty: name at least one network (beam backends lists them)')
    if (new Set(backends).size !== backends.length) throw new UsageError(`--backends ${flags.backends ?? ''} names a network twice`)
    const config = await loadCliConfig(flags, beamHome(io.env), io.signal)
    if (config == null) throw new UsageError(`beam migrate ${name}: no config file (give --config FILE, or create ${beamHome(io.env)}/beam.config.yaml)`)
    const before = getTunnel(config, name)
    const after = getTunnel(await writeTunnelEntry(config.file, name, backends, { key: 'backends', extraBackends: defaultBackends().list().map(b => b.name) }), name)
    const oldKeys = tunnelKeyFiles(ctx.home, before)
    const newKeys = tunnelKeyFiles(ctx.home, after)
    const oldPeer = await peerIdIn(oldKeys.identity)
    const newPeer = await peerIdIn(newKeys.identity)
    const sameIdentity = oldKeys.identity === newKeys.identity
    ctx.out.event('migrated', { name, from: before.backends, to: after.backends, identity: newKeys.identity, peerIdBefore: oldPeer ?? null, peerIdAfter: sameIdentity ? (oldPeer ?? null) : (newPeer ?? null), peerIdChanges: !sameIdentity })
    ctx.out.say(`beam migrate: tunnel ${name} now runs on ${after.backends.join(', ')} (was ${before.backends.join(', ')}), in ${config.file}`)
    if (!sameIdentity) {
      const anonymous = !after.backends.includes('direct')
      ctx.log.warn(`tunnel ${name} now runs with another identity, ${newKeys.identity} (${anonymous ? 'an anonymous-only tunnel never uses the clearnet peer id, which would link the two' : 'the clearnet one'}): its peer id ${oldPeer != null ? `changes from ${oldPeer} ` : ''}to ${newPeer ?? 'a new one made at its next start'}, and connect strings handed out before stop working; hand out the one beam up ${name} prints`)
    } else if (oldPeer != null) {
      ctx.log.info(`peer id unchanged (${oldPeer}); connect strings carry addresses, so hand out the one beam up ${name} prints for the new networks`)
    }
  })
  return cmd
}
