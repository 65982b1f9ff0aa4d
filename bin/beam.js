#!/usr/bin/env node
// beam launcher. Plain JavaScript that any Node can parse, so that an old
// runtime gets one clear line instead of a stack trace. When the runtime is too
// old and the checkout carries its own Node (the `node` dev dependency that
// `npm ci` installs), re-run beam with that one: in place (process.execve)
// where the old Node can, else as a child that gets every signal this process
// gets (docs/long-running.md, "Running under a supervisor").
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import { dirname, join, sep } from 'node:path'
import { isatty } from 'node:tty'
import { fileURLToPath } from 'node:url'

const MIN = [22, 18]
const [major, minor] = process.versions.node.split('.').map(Number)
const tooOld = major < MIN[0] || (major === MIN[0] && minor < MIN[1])

if (tooOld) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const bundled = join(root, 'node_modules', 'node', 'bin', 'node')
  if (existsSync(bundled) && process.env.BEAM_REEXEC !== '1') {
    const args = [fileURLToPath(import.meta.url), ...process.argv.slice(2)]
    const env = { ...process.env, BEAM_REEXEC: '1' }
    // Where this Node has process.execve (22.15+, 23.11+), become the bundled
    // Node: same PID, no child, so a supervisor's signals reach beam itself.
    if (typeof process.execve === 'function') {
      try { process.execve(bundled, [bundled, ...args], env) } catch {}
    }
    runChild(bundled, args, env)
  } else {
    process.stderr.write(`beam: needs Node.js >= ${MIN.join('.')} (this is ${process.versions.node}); run 'npm ci' in the checkout to get the bundled Node, or install Node 24\n`)
    process.exit(69)
  }
} else {
  // `beam relay` holds many mostly idle connections, and its RSS is mostly
  // V8's headroom, not live data: young-generation semi-spaces that V8 sizes
  // up to 64 MiB each on a machine with this much memory, and old-space
  // garbage between full collections. Re-executing the same Node (same PID)
  // with a 16 MiB semi-space cap and a 10% heap growing step halved the
  // relay's RSS at 1,000 circuits at no cost in relayed throughput (see
  // docs/performance.md, "Relay memory"). The flags can only be set when V8
  // starts; process.execve exists from Node 23.11. Flags the user gives
  // (NODE_OPTIONS or on the command line) win.
  //
  // `beam gateway` is the other way round: every visitor request makes a few
  // KiB of short-lived objects, and V8 kept its young generation at 1 MiB, so
  // it ran a scavenge every ~100 requests. A 16 MiB minimum semi-space made
  // them 16 times rarer and took 15-20 % off the gateway's CPU per keep-alive
  // request, for ~30 MiB more RSS under load (docs/gateway.md, "Performance").
  const HEAP_FLAGS = {
    relay: { flags: ['--max-semi-space-size=16', '--heap-growing-percent=10'], off: process.env.BEAM_RELAY_HEAP === 'default' },
    gateway: { flags: ['--min-semi-space-size=16'], off: process.env.BEAM_GATEWAY_HEAP === 'default' }
  }
  const heap = Object.hasOwn(HEAP_FLAGS, process.argv[2] ?? '') ? HEAP_FLAGS[process.argv[2]] : undefined
  const userFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
  if (heap != null && !heap.off && typeof process.execve === 'function' &&
      !/--(max|min)-semi-space-size|--heap-growing-percent/.test(userFlags)) {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...heap.flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], process.env)
  }
  // Start-up is mostly module loading (libp2p and its dependencies: hundreds
  // of files). Node's on-disk compile cache (in the OS temp directory, shared
  // by every run of this Node version; NODE_DISABLE_COMPILE_CACHE=1 turns it
  // off) skips parsing and compiling them again: see docs/performance.md.
  const { enableCompileCache } = await import('node:module')
  enableCompileCache?.()
  // What runs, fastest first:
  // - dist/bundle/beam.mjs, the CLI in one file (`npm run build`, hence
  //   `prepare`, makes it): loading one file instead of ~1,300 takes a
  //   third off start-up. In a checkout only while it is newer than every
  //   source file and the lock file, so an edit is never hidden by a stale
  //   bundle; BEAM_BUNDLE=0 turns it off.
  // - in a checkout, the TypeScript sources (Node strips the types);
  // - in an installed package (under node_modules, where Node refuses to
  //   strip types), the JavaScript build in dist/cli.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const installed = root.split(sep).includes('node_modules')
  const fromSource = !installed && existsSync(join(root, 'src', 'cli', 'main.ts'))
  const bundle = join(root, 'dist', 'bundle', 'beam.mjs')
  const useBundle = process.env.BEAM_BUNDLE !== '0' && existsSync(bundle) && (!fromSource || bundleIsFresh(root, bundle))
  if (!useBundle && !fromSource && !existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    process.stderr.write(`beam: this installation has no build (${join(root, 'dist')} is missing); install beam from a packed tarball, or run 'npm run build' in its directory\n`)
    process.exit(1)
  }
  await import(useBundle ? '../dist/bundle/beam.mjs' : fromSource ? '../src/cli/main.ts' : '../dist/cli/main.js')
}

/** True when the bundle is newer than every file under src/ and the package's manifest and lock file. */
function bundleIsFresh (root, bundle) {
  const built = statSync(bundle).mtimeMs
  for (const f of ['package.json', 'package-lock.json']) {
    if (existsSync(join(root, f)) && statSync(join(root, f)).mtimeMs > built) return false
  }
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(join(entry.parentPath, entry.name)).mtimeMs > built) return false
  }
  return true
}

/**
 * Run beam as a child (an old Node without process.execve): every signal a
 * supervisor or a user can send is passed on to it, and this process exits
 * with the child's code, or 128 + the signal's number when a signal ended it.
 * The keyboard's signals (SIGINT, SIGQUIT) are passed on only when this
 * process is not in its terminal's foreground process group: there, the
 * terminal sent them to the whole group, the child included, and a second
 * copy would make beam skip its clean shutdown. The job-control signals
 * (SIGTSTP, SIGCONT, …) act on the whole group by themselves. If this process
 * is killed outright (SIGKILL), beam sees its parent go and stops (see
 * src/cli/parent-watch.ts).
 */
function runChild (node, args, env) {
  const child = spawn(node, args, { stdio: 'inherit', env })
  const forwarded = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM', 'SIGPWR', 'SIGINFO']
  for (const sig of forwarded) {
    if (constants.signals[sig] == null) continue
    process.on(sig, () => {
      if ((sig === 'SIGINT' || sig === 'SIGQUIT') && inForegroundOfTerminal()) return
      if (child.exitCode == null && child.signalCode == null) child.kill(sig)
    })
  }
  child.on('error', (err) => {
    process.stderr.write(`beam: cannot run ${node}: ${err.message}\n`)
    process.exit(69)
  })
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (constants.signals[signal] ?? 15))
  })
}

/**
 * True when this process belongs to the foreground process group of its
 * controlling terminal (Linux: /proc/self/stat's pgrp equals its tpgid);
 * elsewhere, when standard input or error is a terminal.
 */
function inForegroundOfTerminal () {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // pid (comm) state ppid pgrp session tty_nr tpgid …; comm may hold spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pgrp = Number(fields[2])
    const ttyNr = Number(fields[4])
    const tpgid = Number(fields[5])
    return ttyNr !== 0 && tpgid === pgrp
  } catch {
    return isatty(0) || isatty(2)
  }
}
