import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { createProgram } from '../../../src/cli/program.ts'
import { ExitCode } from '../../../src/cli/exit-codes.ts'

// docs/cli.md must not drift from the commander definitions.
const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8')

describe('docs/cli.md', () => {
  const program = createProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, signal: new AbortController().signal, stderrIsTTY: false })

  it('lists every command and every option', () => {
    const missing: string[] = []
    for (const cmd of program.commands) {
      if (!doc.includes(`beam ${cmd.name()}`)) missing.push(`command ${cmd.name()}`)
      for (const opt of cmd.options) {
        if (opt.long != null && !new RegExp(`[\x60 ]${opt.long}[\x60 ]`).test(doc)) missing.push(`${cmd.name()} ${opt.long}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('lists every exit code', () => {
    for (const code of Object.values(ExitCode)) expect(doc).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'))
  })
})
