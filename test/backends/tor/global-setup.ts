/**
 * Starts one private Tor network for every Tor test (see
 * test/backends/tor/tor-network.ts) and hands its ports to the tests through
 * vitest's provide/inject. Without tor installed it fails in CI (the run
 * stops, naming what is missing); elsewhere it provides nothing and the tests
 * skip with a message saying why (test/helpers/require-tools.ts).
 */
import type { TestProject } from 'vitest/node'
import { startTorNetwork, torInstalled } from './tor-network.ts'
import type { TorNetwork, TorNetworkInfo } from './tor-network.ts'
import { suiteNeeds } from '../../helpers/require-tools.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    torNetwork: TorNetworkInfo | null
    torSkipReason: string
  }
}

let net: TorNetwork | undefined

export async function setup (project: TestProject): Promise<void> {
  const reason = 'tor or tor-gencert is not installed (apt install tor; scripts/install-test-deps.sh does it)'
  if (suiteNeeds('Tor tests', { ok: await torInstalled(), reason })) {
    project.provide('torNetwork', null)
    project.provide('torSkipReason', reason)
    return
  }
  net = await startTorNetwork({ clients: ['cookie', 'none', 'password'], timeout: 150_000 })
  process.stderr.write(`\nprivate Tor network: 3 authorities, 3 relays, ${net.clients.length} clients bootstrapped in ${(net.bootstrapMs / 1000).toFixed(1)} s (${net.dir})\n\n`)
  const { stop: _stop, ...info } = net
  project.provide('torNetwork', info)
  project.provide('torSkipReason', '')
}

export async function teardown (): Promise<void> {
  await net?.stop()
}
