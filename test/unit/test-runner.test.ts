/**
 * scripts/test-runner.ts (what `npm test` runs its stages with): stage times
 * printed, the first failure stops the run, and the time budget is enforced,
 * with real child processes.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runStages } from '../../scripts/test-runner.ts'
import { STAGES } from '../../scripts/test.ts'

const node = (code: string): string[] => [process.execPath, '-e', code]

async function run (stages: Array<{ name: string, cmd: string[] }>, budgetS: number): Promise<{ result: Awaited<ReturnType<typeof runStages>>, out: string }> {
  let out = ''
  const result = await runStages(stages, { budgetS, write: l => { out += l }, killGraceMs: 2000, env: process.env })
  return { result, out }
}

describe('test runner', () => {
  it('runs the stages in order and prints each one\'s time and the total', async () => {
    const { result, out } = await run([{ name: 'one', cmd: node('') }, { name: 'two', cmd: node('setTimeout(() => {}, 300)') }], 60)
    expect(result.ok).toBe(true)
    expect(result.stages.map(s => s.name)).toEqual(['one', 'two'])
    expect(result.stages[1]?.seconds).toBeGreaterThanOrEqual(0.3)
    expect(out).toMatch(/^stage one: \d+(\.\d)? s$/m)
    expect(out).toMatch(/^stage two: \d+(\.\d)? s$/m)
    expect(out).toMatch(/^total: \d+(\.\d)? s of a budget of 60 s$/m)
  })

  it('stops at the first failing stage and fails', async () => {
    const { result, out } = await run([{ name: 'ok', cmd: node('') }, { name: 'bad', cmd: node('process.exit(3)') }, { name: 'never', cmd: node('') }], 60)
    expect(result.ok).toBe(false)
    expect(result.stages.map(s => [s.name, s.code])).toEqual([['ok', 0], ['bad', 3]])
    expect(result.failure).toBe('stage bad failed (exit 3)')
    expect(out).toMatch(/FAILED, stage bad failed/)
    expect(out).not.toMatch(/stage never/)
  })

  it('stops a stage that runs past the budget, with its children, and fails', async () => {
    const started = Date.now()
    // the stage and a child of its own both sleep for a minute
    const dir = mkdtempSync(join(tmpdir(), 'beam-runner-'))
    const pidFile = join(dir, 'child.pid')
    const sleeper = `const c = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'inherit' }); require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(() => {}, 60000)`
    const { result, out } = await run([{ name: 'slow', cmd: node(sleeper) }, { name: 'never', cmd: node('') }], 1)
    expect(Date.now() - started).toBeLessThan(10_000)
    const childPid = Number(readFileSync(pidFile, 'utf8'))
    rmSync(dir, { recursive: true, force: true })
    expect(childPid).toBeGreaterThan(0)
    // gone, or a zombie waiting for whoever adopted it to reap it
    const alive = (): boolean => {
      try { process.kill(childPid, 0) } catch { return false }
      try { return readFileSync(`/proc/${childPid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z' } catch { return true }
    }
    for (let i = 0; i < 40 && alive(); i++) await new Promise(resolve => setTimeout(resolve, 50))
    expect(alive()).toBe(false)
    expect(result.ok).toBe(false)
    expect(result.stages).toHaveLength(1)
    expect(result.stages[0]?.timedOut).toBe(true)
    expect(result.failure).toMatch(/stage slow was stopped: the run passed its budget of 1 s/)
    expect(out).toMatch(/stage slow: .* \(stopped: out of time\)/)
  })

  it('fails a run whose stages all pass when the total is over the budget', async () => {
    // each stage ends just before the deadline is checked again: 0.6 + 0.6 s on a 1 s budget
    const { result } = await run([{ name: 'a', cmd: node('setTimeout(() => {}, 600)') }, { name: 'b', cmd: node('setTimeout(() => {}, 600)') }], 1)
    expect(result.ok).toBe(false)
    expect(result.failure).toMatch(/stopped: the run passed its budget|more than its budget/)
  })

  it('npm test has the stages the CI budget covers', () => {
    expect(STAGES.map(s => s.name)).toEqual(['test-deps', 'typecheck', 'snippets', 'api-docs', 'main', 'i2p+relay-long', 'lab', 'tor', 'ator'])
    // every test directory is run by some stage
    const vitestArgs = STAGES.filter(s => s.cmd[0] === 'vitest').flatMap(s => s.cmd).join(' ')
    for (const dir of ['test/backends/i2p', 'test/lab/relay-long', 'test/lab/nat-traversal', 'test/lab/internet', 'test/lab/benchmark', 'test/lab/netlab', 'test/backends/tor', 'test/backends/ator']) expect(vitestArgs).toContain(dir)
  })

  it('every lab test file is named by a stage (the lab stage lists its files one by one)', () => {
    const stageArgs = STAGES.filter(s => s.cmd[0] === 'vitest').flatMap(s => s.cmd)
    const labFiles = readdirSync('test/lab').filter(f => f.endsWith('.test.ts')).map(f => `test/lab/${f.replace(/\.test\.ts$/, '')}`)
    expect(labFiles.length).toBeGreaterThan(0)
    for (const f of labFiles) expect(stageArgs, f).toContain(f)
  })
})
