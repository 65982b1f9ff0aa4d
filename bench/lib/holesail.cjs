'use strict'
// holesail, the peer tool beam is compared with, run offline on loopback.
//
//   holesail.cjs testnet <nodes>          a local hyperdht testnet; prints its bootstrap list
//   holesail.cjs server <port>            holesail-server sharing 127.0.0.1:<port>; prints its key
//   holesail.cjs client <key> <port>      holesail-client listening on 127.0.0.1:<port>
//
// The shim: holesail-server and holesail-client construct `new HyperDHT()`
// with no options, and hyperdht then starts bootstrapping from its hard-coded
// public nodes (hyperdht/lib/constants.js BOOTSTRAP_NODES) inside the
// constructor (dht-rpc calls _bootstrap() there). Before either is loaded,
// the cached `hyperdht` module is replaced by a subclass that always passes
// the local testnet's list (BENCH_HYPERDHT_BOOTSTRAP=host:port,...) and
// refuses to start without one, so no public node is ever contacted.
//
// The second part of the shim: holesail targets the Bare runtime. Its piping
// library (@holesail/hyper-cmd-lib-net) requires `bare-dgram`, whose
// dependency bare-dns loads a native addon through Bare's `require.addon`,
// which Node lacks ("require.addon is not a function"). bare-dgram is
// replaced by Node's own dgram (used only by holesail's UDP mode). The
// `holesail` CLI package goes further (it aliases path, process, url, module
// and child_process to bare-* packages) and is not used: the benchmark runs
// holesail-server and holesail-client, the libraries the CLI is built on.

const bootstrapEnv = process.env.BENCH_HYPERDHT_BOOTSTRAP || ''

function localBootstrap () {
  const list = bootstrapEnv.split(',').filter(Boolean).map(s => {
    const [host, port] = s.split(':')
    if (host !== '127.0.0.1') throw new Error(`refusing non-loopback hyperdht bootstrap ${s}`)
    return { host, port: Number(port) }
  })
  if (list.length === 0) throw new Error('BENCH_HYPERDHT_BOOTSTRAP is not set: refusing to use the public hyperdht bootstrap nodes')
  return list
}

function installShim () {
  const Module = require('module')
  const dgramId = require.resolve('bare-dgram')
  const stub = new Module(dgramId, module)
  stub.exports = require('dgram')
  stub.loaded = true
  require.cache[dgramId] = stub
  const id = require.resolve('hyperdht')
  const HyperDHT = require('hyperdht')
  const bootstrap = localBootstrap()
  class LocalHyperDHT extends HyperDHT {
    constructor (opts = {}) {
      super({ ...opts, bootstrap, host: '127.0.0.1' })
    }
  }
  require.cache[id].exports = LocalHyperDHT
}

function say (event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

async function main () {
  const [mode, a, b] = process.argv.slice(2)
  if (mode === 'testnet') {
    const createTestnet = require('hyperdht/testnet')
    const testnet = await createTestnet(Number(a || 3), { host: '127.0.0.1' })
    say('ready', { bootstrap: testnet.bootstrap.map(n => `${n.host}:${n.port}`).join(',') })
    const stop = async () => { await testnet.destroy(); process.exit(0) }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    return
  }
  installShim()
  if (mode === 'server') {
    const HolesailServer = require('holesail-server')
    const server = new HolesailServer()
    await new Promise((resolve) => { server.start({ port: Number(a), host: '127.0.0.1', secure: true }, resolve) })
    say('ready', { key: server.key })
    const stop = async () => { await server.destroy().catch(() => {}); process.exit(0) }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    return
  }
  if (mode === 'client') {
    const HolesailClient = require('holesail-client')
    const client = new HolesailClient({ key: a, secure: true })
    await new Promise((resolve) => { client.connect({ port: Number(b), host: '127.0.0.1' }, resolve) })
    say('listening', { port: Number(b) })
    const stop = async () => { await client.destroy().catch(() => {}); process.exit(0) }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    return
  }
  throw new Error(`unknown mode ${mode}`)
}

main().catch((err) => { process.stderr.write(`holesail bench peer: ${err.message}\n`); process.exit(1) })
