import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * Where beam keeps its identity, access secret and address book:
 * `$BEAM_HOME`, else `$XDG_CONFIG_HOME/beam`, else `~/.config/beam`.
 */
export function beamHome (env: NodeJS.ProcessEnv = process.env): string {
  if (env.BEAM_HOME != null && env.BEAM_HOME !== '') return env.BEAM_HOME
  const xdg = env.XDG_CONFIG_HOME
  return join(xdg != null && xdg !== '' ? xdg : join(homedir(), '.config'), 'beam')
}

export const homePaths = (home: string): { identity: string, secret: string, addressBook: string, aliases: string } => ({
  identity: join(home, 'identity.json'),
  secret: join(home, 'access-secret'),
  addressBook: join(home, 'peers.json'),
  aliases: join(home, 'aliases.json')
})
