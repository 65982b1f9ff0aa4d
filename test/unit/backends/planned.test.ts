import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { defaultBackends } from '../../../src/backends/index.ts'
import { plannedBackends } from '../../../src/backends/planned.ts'

// Issue 6: the product plan names these networks besides Tor and I2P; each
// must be listed with an honest status and a reason, never silently dropped.
// (ATOR left this list: src/backends/ator implements it, test/backends/ator tests it.)
const OTHERS = ['nym', 'veilid', 'freenet', 'zeronet', 'zkn', 'anonet']
const DOC = readFileSync(new URL('../../../docs/backends.md', import.meta.url), 'utf8')

describe('backend registry: the networks beam does not support yet', () => {
  it('registers every network of the plan', async () => {
    const names = defaultBackends().list().map(b => b.name)
    for (const n of ['direct', 'tor', 'ator', ...OTHERS]) expect(names).toContain(n)
  })

  it('reports each of them as not-implemented with a concrete one-line reason', async () => {
    const rows = await defaultBackends().status({ signal: AbortSignal.timeout(5_000) })
    for (const name of OTHERS) {
      const row = rows.find(r => r.backend.name === name)
      expect(row, name).toBeDefined()
      expect(row?.availability.status, name).toBe('not-implemented')
      const reason = row?.availability.reason ?? ''
      expect(reason, name).toMatch(/^not implemented: .{40,}/)
      expect(reason, name).not.toMatch(/\n/)
      expect(reason, name).not.toMatch(/no evaluation/)
    }
  })

  it('carries research for each: what exists for Node, the path to implement, and its docs section', () => {
    for (const name of OTHERS) {
      const b = plannedBackends.find(p => p.name === name)
      expect(b, name).toBeDefined()
      if (b == null) continue
      expect(b.research.forNode.length, name).toBeGreaterThan(20)
      expect(b.research.implementPath.length, name).toBeGreaterThan(20)
      expect(['yes', 'no', 'unknown']).toContain(b.research.installableHere)
      expect(['yes', 'no', 'unknown']).toContain(b.research.offlineTestable)
      expect(b.transport, name).toBeUndefined()
      // the docs section it points to exists
      const anchor = b.research.docs.replace(/^#/, '')
      expect(DOC, name).toMatch(new RegExp(`^## .*\\b${anchor}\\b`, 'im'))
    }
  })

  it('has no duplicate names and honours an aborted signal', async () => {
    const names = plannedBackends.map(b => b.name)
    expect(new Set(names).size).toBe(names.length)
    const ctl = new AbortController()
    ctl.abort()
    await expect(plannedBackends[0]?.available({ signal: ctl.signal })).rejects.toThrow()
  })

  it('docs/backends.md lists every registered backend in its table with the same status', async () => {
    const rows = await defaultBackends().status()
    for (const { backend, availability } of rows) {
      const line = DOC.split('\n').find(l => l.startsWith(`| \`${backend.name}\``))
      expect(line, backend.name).toBeDefined()
      // tor, ator and i2p depend on the daemons of this machine: their row says more
      if (backend.name === 'tor' || backend.name === 'ator' || backend.name === 'i2p') continue
      expect(line, backend.name).toContain(availability.status)
    }
  })
})
