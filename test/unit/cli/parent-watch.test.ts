import { describe, expect, it } from 'vitest'
import { parentIsWrapper, watchParent } from '../../../src/cli/parent-watch.ts'

describe('parent watch: which parents are wrappers', () => {
  it('npx running beam, npm run beam/demo, and the launcher on an old Node', () => {
    expect(parentIsWrapper({ npm_lifecycle_event: 'npx', npm_lifecycle_script: '\'beam\'' })).toBe(true)
    expect(parentIsWrapper({ npm_lifecycle_event: 'npx', npm_lifecycle_script: 'beam share 3000' })).toBe(true)
    expect(parentIsWrapper({ npm_lifecycle_event: 'beam', npm_lifecycle_script: 'node bin/beam.js' })).toBe(true)
    expect(parentIsWrapper({ npm_lifecycle_event: 'demo', npm_lifecycle_script: 'node bin/beam.js demo' })).toBe(true)
    expect(parentIsWrapper({ BEAM_REEXEC: '1' })).toBe(true)
  })
  it('not a plain shell, nor npm scripts that only start something that starts beam (a test runner)', () => {
    expect(parentIsWrapper({})).toBe(false)
    expect(parentIsWrapper({ BEAM_REEXEC: '' })).toBe(false)
    expect(parentIsWrapper({ npm_lifecycle_event: 'test', npm_lifecycle_script: 'node scripts/test.ts' })).toBe(false)
    expect(parentIsWrapper({ npm_lifecycle_event: 'npx', npm_lifecycle_script: 'vitest' })).toBe(false)
    expect(parentIsWrapper({ npm_lifecycle_event: 'x', npm_lifecycle_script: 'beamer serve' })).toBe(false)
  })
})

describe('parent watch: the timer', () => {
  it('calls back once when the parent PID changes, not before', async () => {
    let ppid = 100
    let calls = 0
    const stop = watchParent(() => { calls++ }, { intervalMs: 5, parentPid: () => ppid })
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(calls).toBe(0)
    ppid = 1
    await new Promise(resolve => setTimeout(resolve, 30))
    ppid = 7
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(calls).toBe(1)
    stop()
  })
})
