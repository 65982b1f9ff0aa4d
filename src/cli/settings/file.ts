/**
 * beam.config.yaml on the command line: `--config FILE` (env BEAM_CONFIG),
 * else `$BEAM_HOME/beam.config.yaml` when it exists. The file only fills
 * what the command line leaves unset (see node.ts and backends.ts).
 */
import { Option } from 'commander'
import type { Command } from 'commander'
import { defaultBackends } from '../../backends/index.ts'
import { findConfigFile, loadConfig } from '../config/index.ts'
import type { BeamConfig } from '../config/index.ts'

/** `--config FILE` (env BEAM_CONFIG). */
export function addConfigOption (cmd: Command): Command {
  return cmd.addOption(new Option('--config <file>', 'beam.config.yaml to read (default: $BEAM_HOME/beam.config.yaml if it exists)').env('BEAM_CONFIG'))
}

/** Read the config file the flags and home point at; undefined when there is none. */
export async function loadCliConfig (flags: { config?: string }, home: string, signal?: AbortSignal): Promise<BeamConfig | undefined> {
  const found = findConfigFile({ ...(flags.config != null ? { flag: flags.config } : {}), home })
  if (found == null) return undefined
  return await loadConfig(found.path, {
    extraBackends: defaultBackends().list().map(b => b.name),
    ...(signal != null ? { signal } : {})
  })
}
