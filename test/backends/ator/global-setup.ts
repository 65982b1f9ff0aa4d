/**
 * Starts one private ATOR network (ATOR's anon and anon-gencert, from
 * scripts/install-ator.sh's folder) for every ATOR test, through the same
 * harness as the Tor tests (test/backends/tor/tor-network.ts), and hands its ports
 * to the tests through vitest's provide/inject. Without the binaries it
 * fails in CI (the run stops, naming what is missing); elsewhere it provides
 * nothing and the tests skip with a message saying why
 * (test/helpers/require-tools.ts).
 */
import type { TestProject } from 'vitest/node'
import { anonDir, anonFlavour, startTorNetwork, torInstalled } from '../tor/tor-network.ts'
import type { TorNetwork, TorNetworkInfo } from '../tor/tor-network.ts'
import { suiteNeeds } from '../../helpers/require-tools.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    atorNetwork: TorNetworkInfo | null
    atorSkipReason: string
    /** Folder holding anon and anon-gencert. */
    anonDir: string
  }
}

let net: TorNetwork | undefined

export async function setup (project: TestProject): Promise<void> {
  const flavour = anonFlavour()
  project.provide('anonDir', anonDir())
  const reason = `anon or anon-gencert is missing in ${anonDir()} (run scripts/install-ator.sh; scripts/install-test-deps.sh does it)`
  if (suiteNeeds('ATOR tests', { ok: await torInstalled(flavour), reason })) {
    project.provide('atorNetwork', null)
    project.provide('atorSkipReason', reason)
    return
  }
  net = await startTorNetwork({ clients: ['cookie', 'none'], timeout: 150_000, flavour })
  process.stderr.write(`\nprivate ATOR network (anon): 3 authorities, 3 relays, ${net.clients.length} clients bootstrapped in ${(net.bootstrapMs / 1000).toFixed(1)} s (${net.dir})\n\n`)
  const { stop: _stop, ...info } = net
  project.provide('atorNetwork', info)
  project.provide('atorSkipReason', '')
}

export async function teardown (): Promise<void> {
  await net?.stop()
}
