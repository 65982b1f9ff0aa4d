import { describe, it, expect } from 'vitest'
import { getConfigValue, listConfigValues, setConfigValue } from '../../../src/cli/config/index.ts'

const FILE = 'beam.config.yaml'

describe('beam config: get, set, list', () => {
  it('sets a key in an empty file and reads it back', () => {
    const text = setConfigValue('', FILE, 'tunnels.web.port', '3000')
    expect(getConfigValue(text, FILE, 'tunnels.web.port')).toBe(3000)
    expect(getConfigValue(text, FILE, 'version')).toBe(1)
    expect(listConfigValues(text, FILE)).toEqual([['version', 1], ['tunnels.web.port', 3000]])
  })

  it('keeps comments and the other keys', () => {
    const before = '# my tunnels\nversion: 1\ntunnels:\n  web:\n    port: 3000 # the dev server\n'
    const after = setConfigValue(before, FILE, 'tunnels.web.access', 'public')
    expect(after).toContain('# my tunnels')
    expect(after).toContain('# the dev server')
    expect(getConfigValue(after, FILE, 'tunnels.web.access')).toBe('public')
    expect(getConfigValue(after, FILE, 'tunnels.web.port')).toBe(3000)
  })

  it('sets lists and indexes into them', () => {
    const text = setConfigValue('', FILE, 'tunnels.dev.ports', '[5173, "127.0.0.1:24678"]')
    expect(getConfigValue(text, FILE, 'tunnels.dev.ports')).toEqual([5173, '127.0.0.1:24678'])
    expect(getConfigValue(text, FILE, 'tunnels.dev.ports.1')).toBe('127.0.0.1:24678')
  })

  it('refuses a value that loading would refuse, with the loader\'s message', () => {
    expect(() => setConfigValue('', FILE, 'tunnels.web.port', '70000')).toThrow(/tunnels\.web\.port/)
    expect(() => setConfigValue('', FILE, 'tunnels.web.backends', '[drect]')).toThrow(/did you mean 'direct'/)
    expect(() => setConfigValue('', FILE, 'tunnel.web.port', '1')).toThrow(expect.objectContaining({ name: 'ConfigError' }) as Error)
  })

  it('refuses an empty key part', () => {
    expect(() => getConfigValue('', FILE, 'tunnels..port')).toThrow(expect.objectContaining({ name: 'ConfigError' }) as Error)
  })

  it('answers undefined for a key the file does not have', () => {
    expect(getConfigValue('version: 1\n', FILE, 'tunnels.web.port')).toBeUndefined()
  })
})
