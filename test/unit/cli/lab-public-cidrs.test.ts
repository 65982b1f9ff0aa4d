import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { LabCidrError, inRanges, parseCidrList, patchPrivateIpSource } from '../../../src/cli/lab-public-cidrs.ts'

describe('BEAM_LAB_PUBLIC_CIDRS', () => {
  it('parses CIDR lists and matches addresses inside them only', () => {
    const r = parseCidrList('198.51.100.0/24, 203.0.113.7/32')
    expect(inRanges('198.51.100.11', r)).toBe(true)
    expect(inRanges('::ffff:198.51.100.200', r)).toBe(true)
    expect(inRanges('198.51.101.1', r)).toBe(false)
    expect(inRanges('203.0.113.7', r)).toBe(true)
    expect(inRanges('203.0.113.8', r)).toBe(false)
    expect(inRanges('10.0.0.1', r)).toBe(false)
    expect(inRanges('2001:db8::1', r)).toBe(false)
    // host bits are masked off
    expect(parseCidrList('198.51.100.77/24')).toEqual(parseCidrList('198.51.100.0/24'))
  })

  it.each(['nonsense', '198.51.100.0', '198.51.100.0/33', '300.1.1.1/8', '::1/128', ' , '])('rejects %j with a named error', (bad) => {
    expect(() => parseCidrList(bad)).toThrow(LabCidrError)
  })

  it('patches the installed @libp2p/utils private-ip module (fails loudly if its shape changed)', () => {
    const require = createRequire(import.meta.url)
    const file = require.resolve('@libp2p/utils').replace(/index\.js$/, 'private-ip.js')
    const patched = patchPrivateIpSource(readFileSync(file, 'utf8'), parseCidrList('198.51.100.0/24'))
    expect(patched).toContain('upstreamIsPrivateIp')
    expect(() => patchPrivateIpSource('export const x = 1', [])).toThrow(LabCidrError)
  })

  it('changes libp2p\'s view only when set, only for the given ranges', () => {
    const probe = `
      const { installLabPublicCidrs } = await import(${JSON.stringify(new URL('../../../src/cli/lab-public-cidrs.ts', import.meta.url).href)});
      installLabPublicCidrs(process.env.BEAM_LAB_PUBLIC_CIDRS);
      const u = await import('@libp2p/utils');
      const { multiaddr } = await import('@multiformats/multiaddr');
      console.log(JSON.stringify([u.isPrivateIp('198.51.100.11'), u.isPrivateIp('10.1.0.2'), u.isPrivate(multiaddr('/ip4/198.51.100.11/tcp/4001'))]));`
    const run = (env: Record<string, string>): unknown => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { env: { ...process.env, ...env }, cwd: new URL('../../..', import.meta.url).pathname }).toString())
    expect(run({ BEAM_LAB_PUBLIC_CIDRS: '' })).toEqual([true, true, true])
    expect(run({ BEAM_LAB_PUBLIC_CIDRS: '198.51.100.0/24' })).toEqual([false, true, false])
  })
})
