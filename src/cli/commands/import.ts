import { Command } from 'commander'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseIdentity } from '../../peer/index.ts'
import { defaultBackends } from '../../backends/index.ts'
import { addOutputOptions, createContext } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { beamHome } from '../home.ts'
import { UsageError } from '../exit-codes.ts'
import { ENTRY_NAME_RE, ownEntry } from '../config/index.ts'
import { addConfigOption, loadCliConfig } from '../settings/index.ts'
import { MAX_SEALED_FILE, unseal } from '../sealed-file.ts'
import { configPath, parseTunnelExport, pathForConfig, writeTunnelEntry } from '../tunnel-transfer.ts'
import { readPassphrase } from '../passphrase.ts'

interface ImportFlags extends CommonFlags {
  config?: string
  as?: string
  passphraseFile?: string
}

/** Where an imported tunnel's key files go: a folder of its own in the home, mode 0700. */
export function importedKeyDir (home: string, name: string): string {
  return join(home, 'tunnels', name)
}

/**
 * `beam import FILE`: open a `beam export` file with its passphrase, keep the
 * tunnel's identity and access secret in `$BEAM_HOME/tunnels/NAME/` and add
 * `tunnels.NAME` (pointing at them) to the config file; `beam up NAME` then
 * runs the share as the same peer id, with the same secret.
 */
export function importCommand (io: CliIo): Command {
  const cmd = new Command('import')
    .description('add a tunnel written by beam export (its entry, identity and access secret) to this machine; then beam up NAME')
    .argument('<file>', 'the file beam export wrote')
    .option('--as <name>', 'the name to give it here (default: its name where it was exported)')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of a file (- for standard input; default: $BEAM_PASSPHRASE)')
  addConfigOption(cmd)
  addOutputOptions(cmd)
  cmd.action(async (file: string, flags: ImportFlags) => {
    const ctx = createContext(flags, io)
    let text: string
    try {
      if ((await stat(file)).size > MAX_SEALED_FILE) throw new UsageError(`${file} is not a beam export file (over ${MAX_SEALED_FILE} bytes)`)
      text = await readFile(file, 'utf8')
    } catch (err) {
      if (err instanceof UsageError) throw err
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    const passphrase = await readPassphrase(flags.passphraseFile, io, { forNewFile: false })
    const payload = parseTunnelExport(await unseal(text, passphrase))
    const name = flags.as ?? payload.name
    if (!ENTRY_NAME_RE.test(name)) throw new UsageError(`invalid tunnel name '${name}': 1-63 letters, digits, - or _, starting with a letter or digit`)
    const config = await loadCliConfig(flags, ctx.home, io.signal)
    if (config != null && (ownEntry(config.tunnels, name) != null || ownEntry(config.connect, name) != null)) {
      throw new UsageError(`${config.file} has an entry named ${name} already: give another name with --as`)
    }
    const dir = importedKeyDir(ctx.home, name)
    const identityFile = join(dir, 'identity.json')
    const secretFile = join(dir, 'access-secret')
    if (await stat(dir).then(() => true, () => false)) throw new UsageError(`${dir} exists already (an earlier import named ${name}?): give another name with --as, or remove it`)
    const peerId = peerIdFromPrivateKey(parseIdentity(payload.identity, file)).toString()
    const target = configPath(flags.config, beamHome(io.env))
    const entry = {
      ...payload.entry,
      identity: pathForConfig(identityFile, target),
      ...(payload.secret != null ? { secret: pathForConfig(secretFile, target) } : {})
    }
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700)
    await writeFile(identityFile, payload.identity, { mode: 0o600, flag: 'wx' })
    if (payload.secret != null) await writeFile(secretFile, payload.secret + '\n', { mode: 0o600, flag: 'wx' })
    await writeTunnelEntry(target, name, entry, { extraBackends: defaultBackends().list().map(b => b.name) })
    ctx.out.event('imported', { name, peerId, config: target, identity: identityFile, secret: payload.secret != null ? secretFile : null })
    ctx.out.say(`beam import: tunnel ${name} (peer id ${peerId}) added to ${target}; its keys are in ${dir}. Start it with: beam up ${name}`)
  })
  return cmd
}
