import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from 'vitest'

// The folder layout is the architecture (docs/architecture.md): this test
// keeps the import directions honest.
const SRC = fileURLToPath(new URL('../../src', import.meta.url))
const LEAVES = ['signaling', 'tunnel', 'relay', 'backends']

function files (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

interface Edge { from: string, to: string, spec: string }

function edges (): Edge[] {
  const out: Edge[] = []
  for (const f of files(SRC)) {
    const text = readFileSync(f, 'utf8')
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
      const spec = m[1] ?? ''
      out.push({ from: relative(SRC, f), to: relative(SRC, resolve(dirname(f), spec)), spec })
    }
  }
  return out
}

const folderOf = (p: string): string => p.includes('/') ? p.split('/')[0] ?? '' : '(root)'

describe('architecture', () => {
  const all = edges()

  it('sees the import graph', () => {
    expect(all.length).toBeGreaterThan(30)
    expect(all.some(e => e.from === 'peer/share/share.ts' && e.to === 'signaling/index.ts')).toBe(true)
  })

  it('leaf folders import no other beam folder', () => {
    const bad = all.filter(e => LEAVES.includes(folderOf(e.from)) && folderOf(e.to) !== folderOf(e.from))
    expect(bad).toEqual([])
  })

  it('nothing outside cli imports cli', () => {
    expect(all.filter(e => folderOf(e.to) === 'cli' && folderOf(e.from) !== 'cli')).toEqual([])
  })

  it('only cli imports gateway; gateway imports peer and leaf folders', () => {
    expect(all.filter(e => folderOf(e.to) === 'gateway' && !['gateway', 'cli', '(root)'].includes(folderOf(e.from)))).toEqual([])
    const bad = all.filter(e => folderOf(e.from) === 'gateway' && folderOf(e.to) !== 'gateway' && folderOf(e.to) !== 'peer' && !LEAVES.includes(folderOf(e.to)))
    expect(bad).toEqual([])
    expect(all.some(e => e.from.startsWith('gateway/') && e.to === 'peer/index.ts')).toBe(true)
  })

  it('peer imports only leaf folders, never cli', () => {
    const bad = all.filter(e => folderOf(e.from) === 'peer' && folderOf(e.to) !== 'peer' && !LEAVES.includes(folderOf(e.to)))
    expect(bad).toEqual([])
  })

  it('imports across folders go through the folder index.ts', () => {
    const bad = all.filter(e => folderOf(e.from) !== folderOf(e.to) && folderOf(e.to) !== '(root)' && !e.to.endsWith('/index.ts'))
    expect(bad).toEqual([])
  })

  it('only cli touches process, console or exits', () => {
    const bad: string[] = []
    for (const f of files(SRC)) {
      const rel = relative(SRC, f)
      if (folderOf(rel) === 'cli') continue
      const text = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      if (/\bprocess\.(env|argv|exit|stdout|stderr|on)\b|\bconsole\./.test(text)) bad.push(rel)
    }
    expect(bad).toEqual([])
  })
})
