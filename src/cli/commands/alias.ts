import { Command } from 'commander'
import { Aliases, parseNameTarget, parseTarget } from '../../peer/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { homePaths } from '../home.ts'

/** Check that an alias points at something `beam connect` understands. */
function checkTarget (text: string): void {
  if (parseNameTarget(text) != null && !/^beam/.test(text)) return
  parseTarget(text)
}

export function aliasCommand (io: CliIo): Command {
  const cmd = new Command('alias').description('local names for peers (petnames), usable wherever a target is: beam connect <alias>')
  const add = new Command('add')
    .description('name a peer id, connect string or name.prefix (replaces an alias of that name)')
    .argument('<alias>', 'the name: 1-63 of a-z, 0-9 and -')
    .argument('<target>', 'peer id, connect string, or name.peer-id-prefix')
  addOutputOptions(add)
  add.action(async (alias: string, target: string, flags: CommonFlags) => {
    checkTarget(target)
    const ctx = createContext(flags, io)
    await new Aliases(homePaths(ctx.home).aliases).set(alias, target)
    ctx.out.event('alias', { alias, target, action: 'added' })
    ctx.out.say(`alias ${alias} added`)
  })
  const rm = new Command('rm').description('remove an alias').argument('<alias>')
  addOutputOptions(rm)
  rm.action(async (alias: string, flags: CommonFlags) => {
    const ctx = createContext(flags, io)
    await new Aliases(homePaths(ctx.home).aliases).remove(alias)
    ctx.out.event('alias', { alias, action: 'removed' })
    ctx.out.say(`alias ${alias} removed`)
  })
  const list = new Command('list').description('print every alias')
  addOutputOptions(list)
  list.action(async (flags: CommonFlags) => {
    const ctx = createContext(flags, io)
    const all = await new Aliases(homePaths(ctx.home).aliases).list()
    for (const [alias, target] of Object.entries(all)) {
      ctx.out.event('alias', { alias, target })
      if (!ctx.out.json) io.stdout.write(`${alias}\t${target}\n`)
    }
  })
  cmd.addCommand(add)
  cmd.addCommand(rm)
  cmd.addCommand(list)
  return cmd
}
