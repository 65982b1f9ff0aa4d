import { EventEmitter } from 'node:events'
import { unwatchFile, watchFile } from 'node:fs'
import type { Stats } from 'node:fs'
import { silentLogger } from '../peer/index.ts'
import type { Logger } from '../peer/index.ts'
import { loadCertificateFiles } from './tls.ts'
import type { LoadedCertificate } from './tls.ts'

/** How often {@link CertificateFiles} looks at the files, in ms. */
export const DEFAULT_CERT_CHECK = 10_000

/** Options of {@link CertificateFiles}. */
export interface CertificateFilesOptions {
  /** The certificate chain (PEM). */
  certFile: string
  /** Its private key (PEM). */
  keyFile: string
  /** How often the files' metadata is looked at (a stat of each), in ms. @default 10000 */
  interval?: number | undefined
  /** The gateway's logger (component `gateway-tls` is added). @default silent */
  logger?: Logger | undefined
}

/** Events of {@link CertificateFiles}. */
export interface CertificateFilesEvents {
  /** A changed pair of files was read, checked and is served from now on. */
  reloaded: [LoadedCertificate]
  /** The files changed but do not make a usable pair (yet): the previous certificate is still served. */
  'reload-failed': [{ error: string }]
}

/**
 * A certificate and key from files, read again when either file changes on
 * disk (a renewed wildcard certificate is served without a restart). A pair
 * that does not check out (a key written before its certificate, a
 * half-written file) leaves the previous one in place until the next change.
 * Changes are seen by polling the files' metadata, so replaced files and
 * moved symlinks (certbot's `live/` links) count as well as rewrites.
 */
export class CertificateFiles extends EventEmitter<CertificateFilesEvents> {
  private readonly opts: CertificateFilesOptions
  private readonly log: Logger
  private loaded: LoadedCertificate
  private watching = false
  private reloading: Promise<boolean> | undefined
  private again = false

  private constructor (opts: CertificateFilesOptions, first: LoadedCertificate) {
    super()
    this.opts = opts
    this.loaded = first
    this.log = (opts.logger ?? silentLogger()).child({ component: 'gateway-tls' })
  }

  /** Read and check the files (TlsConfigError with one line when they are missing, unreadable or do not match). */
  static async load (opts: CertificateFilesOptions): Promise<CertificateFiles> {
    return new CertificateFiles(opts, await loadCertificateFiles(opts.certFile, opts.keyFile))
  }

  /** The certificate served now. */
  get current (): LoadedCertificate { return this.loaded }

  /** Start looking for changes. Idempotent. */
  watch (): void {
    if (this.watching) return
    this.watching = true
    const interval = this.opts.interval ?? DEFAULT_CERT_CHECK
    for (const file of [this.opts.certFile, this.opts.keyFile]) {
      watchFile(file, { interval, persistent: false }, (now: Stats, before: Stats) => {
        if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return
        void this.reload()
      })
    }
  }

  /** Stop looking. Idempotent. */
  close (): void {
    if (!this.watching) return
    this.watching = false
    unwatchFile(this.opts.certFile)
    unwatchFile(this.opts.keyFile)
  }

  /** Read the files again now; true when a new certificate is served. One reload at a time (a change during one starts another). */
  async reload (): Promise<boolean> {
    if (this.reloading != null) { this.again = true; return await this.reloading }
    this.reloading = (async () => {
      let ok = false
      do {
        this.again = false
        try {
          const next = await loadCertificateFiles(this.opts.certFile, this.opts.keyFile)
          this.loaded = next
          ok = true
          this.log.info({ names: next.names, notAfter: next.notAfter.toISOString() }, 'certificate files changed: serving the new certificate')
          this.emit('reloaded', next)
        } catch (err) {
          ok = false
          const error = (err as Error).message
          this.log.warn({ err: error }, 'certificate files changed but cannot be used (yet): still serving the previous certificate')
          this.emit('reload-failed', { error })
        }
      } while (this.again)
      return ok
    })().finally(() => { this.reloading = undefined })
    return await this.reloading
  }
}
