/**
 * Where a beam process spends its CPU: reads the V8 CPU profiles that
 * `node bench/run.ts --cpu-prof DIR` wrote (one per beam process) and sums
 * self time by package (node_modules/<package>, node's own modules, beam's
 * folders, GC) and by function. Writes bench/results/profile.json, which
 * bench/report.ts shows in docs/benchmarks.md.
 *
 *   node bench/profile-top.ts DIR [--out bench/results/profile.json] [--label TEXT]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples?: number[] }

/** One process's summary: share of busy samples by package and by function, in percent. */
export interface ProcessProfile {
  file: string
  busySeconds: number
  packages: Array<{ name: string, percent: number }>
  functions: Array<{ name: string, percent: number }>
}

/** The bucket a call frame's self time is counted in. */
export function packageOf (url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'V8 garbage collector'
  if (fn === '(program)' || fn === '(idle)' || fn === '(root)') return fn
  if (url === '') return fn === '' ? '(native)' : `native: ${fn}`
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/')
    return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : parts[0] ?? url
  }
  if (url.startsWith('node:')) return url
  const src = url.indexOf('/src/')
  if (src >= 0) return `beam src/${url.slice(src + 5).split('/')[0] ?? ''}`
  return url
}

export function summariseProfile (file: string, top = 12): ProcessProfile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const total = p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0)
  const perSample = total > 0 ? (p.endTime - p.startTime) / 1e6 / total : 0
  const byPkg = new Map<string, number>()
  const byFn = new Map<string, number>()
  let busy = 0
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0
    if (hits === 0 || n.callFrame.functionName === '(idle)') continue
    busy += hits
    const pkg = packageOf(n.callFrame.url, n.callFrame.functionName)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits)
    const name = n.callFrame.functionName || '(anonymous)'
    const fn = pkg === name || pkg.endsWith(`: ${name}`) || pkg === 'V8 garbage collector' ? pkg : `${name} (${pkg})`
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits)
  }
  const rank = (m: Map<string, number>): Array<{ name: string, percent: number }> =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, hits]) => ({ name, percent: Math.round(hits / Math.max(1, busy) * 1000) / 10 }))
  return { file: basename(file), busySeconds: Math.round(busy * perSample * 10) / 10, packages: rank(byPkg), functions: rank(byFn) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { out: { type: 'string' }, label: { type: 'string' } } })
  const dir = positionals[0]
  if (dir == null) throw new Error('usage: node bench/profile-top.ts DIR [--out FILE] [--label TEXT]')
  const files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).sort()
  const processes = files.map(f => summariseProfile(join(dir, f)))
  const out = values.out ?? fileURLToPath(new URL('./results/profile.json', import.meta.url))
  writeFileSync(out, JSON.stringify({ format: 'beam-bench-profile/1', label: values.label ?? '', createdAt: new Date().toISOString(), processes }, null, 2) + '\n')
  for (const p of processes) {
    process.stdout.write(`\n${p.file}: ${p.busySeconds} s busy\n`)
    for (const x of p.packages) process.stdout.write(`  ${String(x.percent).padStart(5)} %  ${x.name}\n`)
  }
  process.stderr.write(`wrote ${out}\n`)
}
