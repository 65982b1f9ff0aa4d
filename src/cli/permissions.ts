/**
 * A warning, once per file and process, when beam's private state is open to
 * other users of the machine: the identity key, the access secret, the
 * state folder ($BEAM_HOME). beam creates them 0600 / 0700; a copy, an
 * archive or a umask can widen that, and anyone who reads the key is this
 * peer, anyone who reads the secret may open its shares.
 */
import { exposedToOthers } from '../peer/index.ts'
import type { ExposedPath, Logger } from '../peer/index.ts'

/** Paths already warned about in this process. */
const warned = new Set<string>()

/** The warning's text: what is open, its mode, and the chmod that closes it. */
export function exposedMessage (what: string, e: ExposedPath): string {
  const mode = e.mode.toString(8).padStart(3, '0')
  const verb = (e.mode & (e.directory ? 0o055 : 0o044)) !== 0 ? 'read' : 'access'
  return `${what} ${e.path}: others can ${verb} it (mode ${mode}): chmod ${e.directory ? '700' : '600'} ${e.path}`
}

/** Log one warning for each of `paths` that is open to others (at most once per path). */
export async function warnIfExposed (paths: Array<{ what: string, path: string }>, log: Logger): Promise<void> {
  for (const { what, path } of paths) {
    if (warned.has(path)) continue
    const e = await exposedToOthers(path)
    if (e == null) continue
    warned.add(path)
    log.warn({ path, mode: e.mode.toString(8) }, exposedMessage(what, e))
  }
}
