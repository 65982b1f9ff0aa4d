import { Command } from 'commander'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { addIdentityOptions, addOutputOptions, createContext, resolveIdentity } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'

export function idCommand (io: CliIo): Command {
  const cmd = new Command('id')
    .description('print this machine\'s peer id and where its key is kept (creates the key on first use)')
  addIdentityOptions(cmd)
  addOutputOptions(cmd)
  cmd.action(async (flags: CommonFlags) => {
    const ctx = createContext(flags, io)
    const id = await resolveIdentity(flags, ctx)
    if (id.privateKey == null) return
    const peerId = peerIdFromPrivateKey(id.privateKey).toString()
    ctx.out.event('id', { peerId, identity: id.path ?? null })
    if (!ctx.out.json) {
      io.stdout.write(`${peerId}\n`)
      io.stderr.write(`identity: ${id.path ?? 'ephemeral (not saved)'}\n`)
    }
  })
  return cmd
}
