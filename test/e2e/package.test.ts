import { execFile, spawn } from 'node:child_process'
import { get as httpGet } from 'node:http'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'

// beam as an app gets it: `npm pack` of this checkout, installed into a
// fresh project outside the repository, then imported, run and type-checked
// there. Under node_modules Node refuses to strip types, so this passes only
// if the installed package runs from its JavaScript build and types from its
// .d.ts files. The pack takes the dist/ that `npm install` built (`prepare`)
// with --ignore-scripts: a rebuild here would delete and rewrite
// dist/bundle under the beam processes that other test files start.
const root = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string, devDependencies: Record<string, string> }

interface Run { code: number | string, stdout: string, stderr: string }

/**
 * The environment of an app developer: this Node first on PATH (the system
 * one may be older than beam needs), and without the "beam-source" export
 * condition that the vitest config gives the processes of the checkout, and
 * without what an outer npm says about the checkout.
 */
function appEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  const options = (env.NODE_OPTIONS ?? '').split(/\s+/).filter(o => o !== '' && o !== '--conditions=beam-source')
  if (options.length > 0) env.NODE_OPTIONS = options.join(' ')
  else delete env.NODE_OPTIONS
  // an outer npm (npm test, npx) describes the checkout to its children: not the app's
  for (const k of Object.keys(env)) if (k === 'npm_config_local_prefix' || k.startsWith('npm_package_') || k.startsWith('npm_lifecycle_')) delete env[k]
  env.PATH = [dirname(process.execPath), env.PATH].filter(p => p != null && p !== '').join(delimiter)
  return env
}

/** Run a command; killed after `timeout` ms. */
async function run (cmd: string, args: string[], cwd: string, timeout: number, extraEnv: Record<string, string> = {}): Promise<Run> {
  return await new Promise<Run>((resolve) => {
    execFile(cmd, args, { cwd, timeout, env: { ...appEnv(), ...extraEnv }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string, signal?: string }) | null
      resolve({ code: e == null ? 0 : (e.signal ?? e.code ?? 1), stdout, stderr })
    })
  })
}

const seen = (r: Run): string => `exit ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`

/** The app's script: two nodes on loopback, a TCP echo service shared by one and reached by the other. */
const CONSUMER_MJS = `
import { createHash, randomBytes } from 'node:crypto'
import { createServer, connect } from 'node:net'
import { createBeam, newAccessSecret } from 'beam'

const sha = b => createHash('sha256').update(b).digest('hex')
const received = []
let serviceDone
const serviceGot = new Promise(resolve => { serviceDone = resolve })
const echo = createServer(s => {
  s.on('data', c => { received.push(c); s.write(c) })
  s.on('end', () => { s.end(); serviceDone(sha(Buffer.concat(received))) })
})
await new Promise(resolve => echo.listen(0, '127.0.0.1', resolve))

const init = { dht: false, bootstrap: [], iceServers: [], webrtcBindAddress: '127.0.0.1' }
const sharer = await createBeam({ ...init, listen: ['/ip4/127.0.0.1/tcp/0'] })
const connector = await createBeam(init)
const secret = newAccessSecret()
await sharer.share({ services: [{ port: echo.address().port }], access: { mode: 'secret', secret } })
const tunnel = await connector.connect(sharer.connectString(secret), { signal: AbortSignal.timeout(15_000) })

const sent = randomBytes(3 * 1024 * 1024 + 17)
const back = await new Promise((resolve, reject) => {
  const chunks = []
  const s = connect(tunnel.port, tunnel.host)
  s.on('data', c => chunks.push(c))
  s.on('end', () => resolve(Buffer.concat(chunks)))
  s.on('error', reject)
  s.end(sent)
})
const result = {
  resolved: import.meta.resolve('beam'),
  sent: sha(sent),
  atService: await serviceGot,
  back: sha(back),
  length: back.length
}
await tunnel.close()
await connector.stop()
await sharer.stop()
echo.close()
console.log(JSON.stringify(result))
`

/** The app's TypeScript: compiles only against real types (no implicit any). */
const CONSUMER_TS = `
import { createBeam, newAccessSecret, InvalidConnectStringError } from 'beam'
import type { BeamInit, BeamNode, Share } from 'beam'

const init: BeamInit = { listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, iceServers: [] }
const node: BeamNode = await createBeam(init)
const share: Share = await node.share({ services: [{ port: 8080 }], access: { mode: 'secret', secret: newAccessSecret() } })
const connectString: string = node.connectString()
const reasonOf = (e: unknown): string | undefined => e instanceof InvalidConnectStringError ? e.reason : undefined
// @ts-expect-error listen takes multiaddr strings: fails to compile if beam's types were missing (any)
const bad: BeamInit = { listen: [4001] }
// @ts-expect-error there is no such method
node.noSuchMethod()
await share.close()
await node.stop()
export { connectString, reasonOf, bad }
`

describe('the npm package, installed into an app', () => {
  let tmp: string
  let app: string
  let install: Run

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'beam-package-'))
    const packDir = join(tmp, 'pack')
    app = join(tmp, 'app')
    mkdirSync(packDir)
    mkdirSync(app)
    expect(readdirSync(join(root, 'dist', 'bundle')).some(f => f === 'beam.mjs'), 'no build in dist/: run npm install (or npm run build) first').toBe(true)
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir, '--silent'], root, 90_000)
    expect(pack.code, seen(pack)).toBe(0)
    const tarballs = readdirSync(packDir).filter(f => f.endsWith('.tgz'))
    expect(tarballs).toHaveLength(1)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'beam-consumer', private: true, type: 'module' }, null, 2))
    // from the local npm cache: the checkout's own install filled it
    install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(packDir, tarballs[0] ?? ''), `@types/node@${pkg.devDependencies['@types/node'] ?? '24'}`], app, 90_000)
  }, 150_000)

  afterAll(() => {
    if (tmp != null) rmSync(tmp, { recursive: true, force: true })
  })

  it('installs from the packed tarball, with the build and without the checkout\'s tooling', () => {
    expect(install.code, seen(install)).toBe(0)
    const beamDir = join(app, 'node_modules', 'beam')
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/bundle/beam.mjs', 'dist/peer/discovery/bootstrap.js', 'bootstrap-nodes.json', 'bin/beam.js', 'src/cli/dashboard/static/index.html', 'src/cli/dashboard/static/app.js', 'src/cli/dashboard/static/style.css']) {
      expect(() => readFileSync(join(beamDir, f)), f).not.toThrow()
    }
    // dev dependencies (vitest, typescript, the bundled node) stay out of an app
    expect(readdirSync(join(app, 'node_modules'))).not.toContain('vitest')
  })

  it('runs in an app: import { createBeam } from \'beam\', two nodes, a tunnel to a TCP echo service, bytes exact both ways', async () => {
    writeFileSync(join(app, 'consumer.mjs'), CONSUMER_MJS)
    const r = await run(process.execPath, ['consumer.mjs'], app, 45_000)
    expect(r.code, seen(r)).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { resolved: string, sent: string, atService: string, back: string, length: number }
    expect(out.resolved).toMatch(/\/node_modules\/beam\/dist\/index\.js$/)
    expect(out.length).toBe(3 * 1024 * 1024 + 17)
    expect(out.atService).toBe(out.sent)
    expect(out.back).toBe(out.sent)
  }, 60_000)

  it('runs the installed bin: npx beam --version', async () => {
    const r = await run('npx', ['--no-install', 'beam', '--version'], app, 30_000)
    expect(r.code, seen(r)).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
    // a command that builds a whole node (every transport, the native
    // add-ons) runs from the installed bundle too
    const home = join(tmp, 'home')
    mkdirSync(home)
    const doctor = await run('npx', ['--no-install', 'beam', 'doctor', '--no-default-bootstrap', '--json'], app, 30_000, { BEAM_HOME: home })
    expect(doctor.code, seen(doctor)).toBe(0)
    const report = JSON.parse(doctor.stdout.trim().split('\n').at(-1) ?? '{}') as { event?: string, peerId?: string }
    expect(report.event).toBe('doctor')
    expect(report.peerId).toMatch(/^12D3KooW/)
  }, 60_000)

  it('the installed bundle serves the dashboard\'s page (its static files are found from dist/bundle)', async () => {
    const home = join(tmp, 'home-dashboard')
    mkdirSync(home)
    const child = spawn(process.execPath, [join(app, 'node_modules', 'beam', 'bin', 'beam.js'), 'dashboard', '--json'], { cwd: app, env: { ...appEnv(), BEAM_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => { reject(new Error(`no dashboard event in 30 s; stderr: ${err}`)) }, 30_000)
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c
          const m = /"url":"([^"]+)"/.exec(out)
          if (m?.[1] != null) { clearTimeout(t); resolve(m[1]) }
        })
        child.on('exit', code => { clearTimeout(t); reject(new Error(`beam dashboard exited ${String(code)}: ${err}`)) })
      })
      const fetch = async (path: string, cookie?: string): Promise<{ status: number, cookie: string, body: string }> => await new Promise((resolve, reject) => {
        httpGet(new URL(path, url), { headers: cookie != null ? { cookie } : {} }, res => {
          let body = ''
          res.setEncoding('utf8').on('data', (c: string) => { body += c })
          res.on('end', () => { resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '').split(';')[0] ?? '', body }) })
        }).on('error', reject)
      })
      const first = await fetch(url)
      expect(first.status).toBe(303)
      for (const f of ['/_beam/', '/_beam/app.js', '/_beam/style.css']) {
        const r = await fetch(f, first.cookie)
        expect(r.status, f).toBe(200)
        expect(r.body.length, f).toBeGreaterThan(100)
      }
    } finally {
      child.kill('SIGTERM')
    }
  }, 60_000)

  it('type-checks an app\'s TypeScript against the shipped .d.ts files', async () => {
    writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS)
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'es2024', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['consumer.ts']
    }, null, 2))
    const r = await run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--pretty', 'false'], app, 60_000)
    // skipLibCheck is off so that beam's own .d.ts files are checked too; the
    // .d.ts files of other packages (as npm resolved them for this app) are
    // not beam's to fix, so only diagnostics in consumer.ts or beam count.
    const lines = (r.stdout + r.stderr).split('\n').filter(l => l.trim() !== '')
    const diagnostic = /^(.+?)\(\d+,\d+\): error TS\d+:/
    expect(lines.filter(l => !/^\s/.test(l) && !diagnostic.test(l)), seen(r)).toEqual([])
    expect(lines.filter(l => /^(consumer\.ts|node_modules\/beam\/)/.test(l)), seen(r)).toEqual([])
    // a failure of tsc itself (no diagnostics) fails the test too
    if (lines.length === 0) expect(r.code, seen(r)).toBe(0)
  }, 70_000)
})
