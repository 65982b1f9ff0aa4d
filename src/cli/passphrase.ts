import { UsageError } from './exit-codes.ts'
import { passwordOf, readSecretInput } from './secret-input.ts'
import type { SecretInputIo } from './secret-input.ts'
import { MIN_PASSPHRASE } from './sealed-file.ts'

/**
 * The passphrase of an export file: `--passphrase-file FILE` (its first line;
 * `-` for standard input), else `BEAM_PASSPHRASE`. Never an argument: argv
 * is readable by every user of the machine. A new file needs at least
 * {@link MIN_PASSPHRASE} characters.
 */
export async function readPassphrase (file: string | undefined, io: SecretInputIo, options: { forNewFile: boolean }): Promise<string> {
  const text = file != null ? passwordOf(await readSecretInput(file, '--passphrase-file', io, { firstLine: true })) : io.env.BEAM_PASSPHRASE
  if (text == null || text === '') throw new UsageError('no passphrase: give it with --passphrase-file FILE (- for standard input) or BEAM_PASSPHRASE')
  if (options.forNewFile && [...text].length < MIN_PASSPHRASE) throw new UsageError(`the passphrase is too short: at least ${MIN_PASSPHRASE} characters (it is all that protects the private key in the file)`)
  return text
}
