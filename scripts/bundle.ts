/**
 * Bundle the CLI into dist/bundle/beam.mjs (plus a chunk per lazy import),
 * which bin/beam.js runs when it is there (and, in a checkout, newer than
 * every file in src/).
 *
 * Why: `beam connect` spends most of its start-up loading modules — libp2p
 * and its dependencies are ~1,300 files, each resolved, read and compiled.
 * The bundle cut spawn → first byte through a tunnel from ~640 ms to ~410 ms
 * on the benchmark machine (docs/performance.md, "The bundle").
 *
 * Packages with native code stay outside the bundle and load from
 * node_modules as before. src/peer/discovery/bootstrap.ts looks for
 * bootstrap-nodes.json in the folders above it, so it finds the package's
 * copy from dist/bundle/ as well.
 *
 * Usage: node scripts/bundle.ts (run by `npm run build`, hence by `prepare`).
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * Packages that load native add-ons by paths relative to their own files
 * (prebuilt binaries from npm). @chainsafe/libp2p-quic is not one of them:
 * its loader requires the platform package (@chainsafe/libp2p-quic-linux-x64-gnu
 * …) by name through its own createRequire, which resolves from the bundle's
 * directory up to node_modules as well. Bundling its JavaScript matters:
 * left outside, it loaded a second, unbundled copy of multiformats,
 * @libp2p/utils, @libp2p/crypto and the noble curves (~45 ms of module
 * resolution in every `beam share`/`beam connect`, docs/performance.md).
 */
const NATIVE_PACKAGES = ['node-datachannel', '@ipshipyard/node-datachannel']

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { beam: 'src/cli/main.ts' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  // what beam imports lazily (transports a node does not use, the DHT) stays
  // lazy: each dynamic import() becomes a chunk of its own
  splitting: true,
  // chunks beside beam.mjs: code in them resolves ../../ to the package root too
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external: NATIVE_PACKAGES,
  // CommonJS dependencies call require(); an ES module has none of its own
  banner: { js: "import { createRequire as __beamCreateRequire } from 'node:module'; const require = __beamCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
  // V8 keeps the source of every loaded chunk in memory (lazy compilation
  // reparses it): without comments and indentation the chunks an idle
  // share loads are a third smaller, ~5 MB less RSS (docs/performance.md,
  // "Idle memory"). Identifiers are kept, so stack traces and class names
  // (error names) read as in the sources.
  minifyWhitespace: true,
  minifySyntax: true
})
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
const inputs = Object.keys(result.metafile.inputs).length
process.stdout.write(`bundle: dist/bundle/beam.mjs and ${Object.keys(result.metafile.outputs).length - 1} chunks from ${inputs} files (${(bytes / 1e6).toFixed(1)} MB)\n`)
