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

export const homePaths = (home: string): { identity: string, secret: string, addressBook: string, aliases: string, listenPorts: string } => ({
  identity: join(home, 'identity.json'),
  secret: join(home, 'access-secret'),
  addressBook: join(home, 'peers.json'),
  aliases: join(home, 'aliases.json'),
  // the ports a share with the default listen addresses had, per peer id
  listenPorts: join(home, 'listen-ports.json')
})

/**
 * The name of a set of networks in file names: the backend names sorted and
 * joined by '+', so `--backends tor,i2p` and `--backends i2p,tor` are one set
 * (`i2p+tor`).
 */
export function backendSetName (names: string[]): string {
  return [...new Set(names)].sort().join('+')
}

/**
 * Where an anonymous-only share (only Tor, ATOR or I2P: no `direct`) keeps
 * its own identity and access secret: `identity-<set>.json` and
 * `access-secret-<set>` in the home, e.g. `identity-tor.json`. Never the
 * clearnet share's files: a peer id or secret seen on the clearnet (in the
 * DHT, in a connect string with IP addresses) would link the two.
 */
export const anonymousPaths = (home: string, names: string[]): { identity: string, secret: string } => ({
  identity: join(home, `identity-${backendSetName(names)}.json`),
  secret: join(home, `access-secret-${backendSetName(names)}`)
})
