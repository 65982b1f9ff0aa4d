/**
 * `node --import` entry for the beam processes of the NAT lab (lab-beam.ts
 * puts it in their NODE_OPTIONS): installs BEAM_LAB_PUBLIC_CIDRS (see
 * lab-public-cidrs.ts) before beam loads libp2p. A bad value ends the process
 * with one line and exit code 7, as a bad configuration would.
 */
import { LAB_PUBLIC_CIDRS_ENV, installLabPublicCidrs } from './lab-public-cidrs.ts'

/** beam's exit code for a configuration error (ExitCode.CONFIG in src/cli/exit-codes.ts). */
const EXIT_CONFIG = 7

try {
  const ranges = installLabPublicCidrs(process.env[LAB_PUBLIC_CIDRS_ENV])
  if (ranges != null) process.stderr.write(`beam: ${LAB_PUBLIC_CIDRS_ENV} is set: treating ${process.env[LAB_PUBLIC_CIDRS_ENV] ?? ''} as public addresses (NAT lab only)\n`)
} catch (err) {
  process.stderr.write(`beam: ${(err as Error).message}\n`)
  process.exit(EXIT_CONFIG)
}
