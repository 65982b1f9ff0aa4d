import { Command } from 'commander'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { addIdentityOptions, addOutputOptions, createContext, identityOf, resolveIdentity } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { addBackendSetOptions, backendNames } from '../backend-flags.ts'
import type { BackendFlags } from '../backend-flags.ts'
import { defaultBackends } from '../../backends/index.ts'
import { UsageError } from '../exit-codes.ts'

type IdFlags = CommonFlags & Pick<BackendFlags, 'backend' | 'backends' | 'tor' | 'ator' | 'i2p'>

export function idCommand (io: CliIo): Command {
  const cmd = new Command('id')
    .description('print this machine\'s peer id and where its key is kept (creates the key on first use); with --tor, --i2p, --ator or --backends: the identity of shares over only those networks')
  addIdentityOptions(cmd)
  addBackendSetOptions(cmd)
  addOutputOptions(cmd)
  cmd.action(async (flags: IdFlags) => {
    const ctx = createContext(flags, io)
    const names = backendNames(flags)
    const registry = defaultBackends()
    for (const n of names) {
      try {
        registry.get(n)
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    }
    // the identity `beam share` with the same networks uses: its own for an anonymous-only set
    const id = await resolveIdentity(identityOf(flags), ctx, names.includes('direct') ? undefined : names)
    if (id.privateKey == null) return
    const peerId = peerIdFromPrivateKey(id.privateKey).toString()
    ctx.out.event('id', { peerId, identity: id.path ?? null, identityKind: id.kind, backends: names })
    if (!ctx.out.json) {
      io.stdout.write(`${peerId}\n`)
      io.stderr.write(`identity: ${id.path ?? 'ephemeral (not saved)'}${id.kind === 'anonymous' ? ` (shares over ${names.join(', ')} only)` : ''}\n`)
    }
  })
  return cmd
}
