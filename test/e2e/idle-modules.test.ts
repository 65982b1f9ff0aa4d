/**
 * What an idle share has loaded (issue 23, "idle share ≤ 60 MB RSS"). A real
 * `beam share` on loopback with the defaults users get (its dashboard on)
 * sits idle; a preloaded probe (test/fixtures/loaded-builtins.ts) lists the
 * Node built-in modules it has loaded. node:http and its kin (http2, https,
 * tls) cost an idle process ~13 MB of RSS on this kind of machine
 * (docs/performance.md, "Idle memory"), and only the dashboard's first page,
 * a gateway or the dev-server probe use them: they must not be loaded until
 * then. RSS itself is measured in the bench, not asserted here.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startShare, tempHome } from '../helpers/beam.ts'
import type { BeamEvent, BeamProcess } from '../helpers/beam.ts'
import { startTcpService } from '../helpers/services.ts'

const PROBE = fileURLToPath(new URL('../fixtures/loaded-builtins.ts', import.meta.url))
const HTTP_FAMILY = ['http', 'http2', 'https', 'tls', '_http_server', 'internal/http2/core']

describe('an idle share', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  let service: Awaited<ReturnType<typeof startTcpService>>
  let share: BeamProcess
  let ready: BeamEvent
  let listFile = ''

  beforeAll(async () => {
    home = await tempHome()
    service = await startTcpService(s => { s.end() })
    listFile = join(home.dir, 'builtins.json')
    const s = await startShare([String(service.port), '--ephemeral'], home.dir, {
      BEAM_LOG_LEVEL: 'warn',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PROBE}`.trim(),
      BEAM_TEST_BUILTINS_FILE: listFile
    })
    share = s.proc
    ready = s.ready
  })

  afterAll(async () => {
    await share?.stop()
    await service?.close()
    await home?.cleanup()
  })

  /** The built-ins the share has loaded now (the probe writes them on SIGUSR2, before beam's `memory` event). */
  async function loadedBuiltins (): Promise<string[]> {
    const from = share.events.length
    share.child.kill('SIGUSR2')
    await share.waitFor('memory', 10_000, () => true, from)
    return JSON.parse(await readFile(listFile, 'utf8')) as string[]
  }

  it('has not loaded node:http, http2, https or tls; the first dashboard request loads node:http', { timeout: 60_000 }, async () => {
    expect(String(ready.dashboard)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_beam\/\?token=/)
    await new Promise(resolve => setTimeout(resolve, 1000))
    const idle = await loadedBuiltins()
    expect(idle).toContain('net') // the probe sees what is loaded
    expect(idle.filter(m => HTTP_FAMILY.includes(m))).toEqual([])

    // the dashboard still serves: its first page loads node:http
    // (the token URL answers with a cookie and a redirect to the page)
    const res = await fetch(String(ready.dashboard), { redirect: 'manual', signal: AbortSignal.timeout(10_000) })
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/)
    expect(await loadedBuiltins()).toContain('http')
  })
})
