/**
 * Real `beam` processes inside lab hosts: each with its own BEAM_HOME, JSON
 * output, WebRTC free to use the lab interfaces, and the lab's public ranges
 * treated as public (BEAM_LAB_PUBLIC_CIDRS, installed by lab-public-cidrs-hook.ts
 * through `node --import`: the shipped CLI has no such hook). `stopAll` ends
 * them and removes their homes.
 */
import { BeamProcess, tempHome } from '../helpers/beam.ts'
import type { Lab } from './netlab.ts'
import { PUBLIC_NET } from './netlab.ts'

/** Loaded before beam by every lab beam process (`node --import`). */
const HOOK = new URL('./lab-public-cidrs-hook.ts', import.meta.url).href

export class LabBeams {
  private readonly lab: Lab
  private readonly procs: BeamProcess[] = []
  private readonly homes: Array<() => Promise<void>> = []

  constructor (lab: Lab) {
    this.lab = lab
  }

  /** Start `beam <args> --json` in `host`. */
  async start (host: string, args: string[]): Promise<BeamProcess> {
    const home = await tempHome()
    this.homes.push(home.cleanup)
    const p = new BeamProcess([...args, '--json'], { BEAM_HOME: home.dir }, (argv, env) => this.lab.spawn(host, argv, {
      env: {
        ...env,
        BEAM_WEBRTC_BIND: '',
        BEAM_LAB_PUBLIC_CIDRS: `${PUBLIC_NET}.0/24`,
        // the hook patches libp2p's own module file: the one-file bundle would bypass it
        BEAM_BUNDLE: '0',
        NODE_OPTIONS: [env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '', `--import=${HOOK}`].filter(o => o !== '').join(' ')
      }
    }))
    this.procs.push(p)
    return p
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.procs.map(async p => await p.stop('SIGTERM', 3000)))
    for (const h of this.homes) await h().catch(() => {})
  }
}
