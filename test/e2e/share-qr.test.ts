/**
 * `beam share --qr`: the banner carries a QR code of the connect string that a
 * real decoder (zbarimg) reads back, and the decoded text connects.
 */
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, startConnect, tempHome } from '../helpers/beam.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'
import { decodeImage, modulesFromText, qrDecoderNeed, writePbm } from '../helpers/qr-decode.ts'
import { waitUntil } from '../helpers/wait.ts'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

describe.skipIf(suiteNeeds('QR decoder tests', qrDecoderNeed()))('beam share --qr', () => {
  it('prints a QR code of the connect string that decodes to it (upper case) and connects', async () => {
    const http = await startHttpService()
    cleanups.push(async () => { await http.close() })
    const home = await tempHome()
    cleanups.push(home.cleanup)
    // without --json: the banner (and the QR code) go to stderr
    const share = new BeamProcess(['share', String(http.port), '--qr', ...LOOPBACK_LISTEN, ...OFFLINE, '--log-level', 'warn'], { BEAM_HOME: home.dir, BEAM_LOG_LEVEL: 'warn' })
    cleanups.push(async () => { await share.stop() })
    await waitUntil('the banner', () => /\nbeam[a-z2-7]{60,}\n/.test(share.stderr), { timeoutMs: 30_000 })
    const lines = share.stderr.split('\n')
    const connect = lines.find(l => /^beam[a-z2-7]{60,}$/.test(l)) ?? ''
    expect(share.stderr).toMatch(/QR code of the connect string below/)
    const file = join(home.dir, 'qr.pbm')
    await writePbm(file, modulesFromText(lines))
    const decoded = await decodeImage(file)
    expect(decoded).toBe(connect.toUpperCase())
    // what a phone would read connects as it is
    const other = await tempHome()
    cleanups.push(other.cleanup)
    const c = await startConnect(decoded, [], other.dir)
    cleanups.push(async () => { await c.proc.stop() })
    const got = await httpGet(c.port, '/download?mib=1&seed=71')
    expect(got.sha256).toBe(expectedHash(71, 1))
  }, 90_000)
})
