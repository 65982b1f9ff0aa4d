import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SecureContext } from 'node:tls'
import { silentLogger } from '../peer/index.ts'
import type { Logger } from '../peer/index.ts'
import { checkCertificate } from './tls.ts'
import type { LoadedCertificate } from './tls.ts'

/**
 * Certificates from an ACME CA (Let's Encrypt, ZeroSSL, step-ca, Pebble),
 * one per host name, issued on the first TLS handshake for a name the
 * gateway serves, answered by HTTP-01 on the gateway's plain HTTP listener,
 * kept on disk and renewed before they expire. The protocol is acme-client's
 * (a maintained library); this file only decides when to ask and where to
 * keep what comes back.
 */

/** Renew a certificate this long before it expires, at most (or at a third of its lifetime, if that is sooner), in ms: 30 days. */
export const DEFAULT_RENEW_BEFORE = 30 * 86_400_000
/** How often certificates are checked for renewal, in ms: 12 hours. */
export const DEFAULT_RENEW_CHECK = 12 * 3600_000

/** The ACME server cannot be reached, or refused an account or a certificate. */
export class AcmeError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'AcmeError'
  }
}

/** Options of {@link AcmeCertificates}. */
export interface AcmeOptions {
  /** The CA's ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  directoryUrl: string
  /** Contact address for the account (expiry notices). @default unset */
  email?: string | undefined
  /** Where the account key and the certificates are kept (created, mode 0700). */
  dir: string
  /** Extra CA certificates (PEM) to trust for the ACME server's own HTTPS (a private CA). @default the system's */
  serverCa?: string | Buffer | undefined
  /** Renew this long before expiry, in ms (or at a third of the lifetime, if sooner). @default 30 days */
  renewBefore?: number | undefined
  /** How often to check for renewals, in ms. @default 12 hours */
  renewCheck?: number | undefined
  /** Logger (component `acme`). @default silent */
  logger?: Logger | undefined
}

/** {@link AcmeCertificates} events, as callbacks. */
export interface AcmeEvents {
  /** A certificate was issued (`renewal`: it replaced one). */
  onIssued?: (e: { name: string, notAfter: string, renewal: boolean, ms: number }) => void
  /** Issuing failed. */
  onFailed?: (e: { name: string, error: string }) => void
}

type AcmeModule = typeof import('acme-client')

/** Certificates for host names from an ACME CA. */
export class AcmeCertificates {
  private readonly opts: AcmeOptions
  private readonly log: Logger
  private readonly events: AcmeEvents
  private readonly certs = new Map<string, LoadedCertificate>()
  private readonly pending = new Map<string, Promise<LoadedCertificate>>()
  private readonly tokens = new Map<string, string>()
  private client: InstanceType<AcmeModule['Client']> | undefined
  private acme: AcmeModule | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly renewBefore: number

  constructor (options: AcmeOptions, events: AcmeEvents = {}) {
    this.opts = options
    this.events = events
    this.log = (options.logger ?? silentLogger()).child({ component: 'acme' })
    this.renewBefore = options.renewBefore ?? DEFAULT_RENEW_BEFORE
  }

  /**
   * Reach the ACME server, create or load the account, load the cached
   * certificates, start the renewal timer. Throws AcmeError when the server
   * cannot be reached or refuses the account.
   */
  async start (): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 })
    await this.checkDirectory()
    const acme = await import('acme-client')
    this.acme = acme
    acme.setLogger(msg => { this.log.debug(msg) })
    if (this.opts.serverCa != null) acme.axios.defaults.httpsAgent = new (process.getBuiltinModule('node:https').Agent)({ ca: this.opts.serverCa })
    const keyFile = join(this.opts.dir, 'account.key')
    let accountKey: Buffer
    try {
      accountKey = await readFile(keyFile)
    } catch {
      accountKey = await acme.crypto.createPrivateEcdsaKey('P-256')
      await writeFile(keyFile, accountKey, { mode: 0o600 })
    }
    this.client = new acme.Client({ directoryUrl: this.opts.directoryUrl, accountKey, backoffAttempts: 10, backoffMin: 200, backoffMax: 5000 })
    try {
      await this.client.createAccount({ termsOfServiceAgreed: true, ...(this.opts.email != null ? { contact: [`mailto:${this.opts.email}`] } : {}) })
    } catch (err) {
      throw new AcmeError(`the ACME server at ${this.opts.directoryUrl} refused the account: ${oneLine(err)}`, err)
    }
    const check = this.opts.renewCheck ?? DEFAULT_RENEW_CHECK
    this.timer = setInterval(() => { void this.renewDue() }, check)
    this.timer.unref()
  }

  /** Stop the renewal timer. */
  stop (): void {
    if (this.timer != null) clearInterval(this.timer)
  }

  /** The key authorization for an HTTP-01 token this gateway is being validated for. */
  challenge (token: string): string | undefined {
    return this.tokens.get(token)
  }

  /** Names with a certificate now. */
  get names (): string[] { return [...this.certs.keys()] }

  /** The certificate held for a name (after {@link context} issued or loaded it). */
  certificate (name: string): LoadedCertificate | undefined { return this.certs.get(name) }

  /** The TLS context for `name`: cached, from disk, or issued now. Throws AcmeError when issuing fails. */
  async context (name: string): Promise<SecureContext> {
    const held = this.certs.get(name) ?? await this.fromDisk(name)
    if (held != null && held.notAfter.getTime() > Date.now()) return held.context
    return (await this.issue(name, false)).context
  }

  /** Renew every held certificate that is due. */
  async renewDue (): Promise<void> {
    for (const [name, cert] of this.certs) {
      if (!this.due(cert)) continue
      await this.issue(name, true).catch(() => {})
    }
  }

  private due (cert: LoadedCertificate): boolean {
    const left = cert.notAfter.getTime() - Date.now()
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime()
    return left < Math.min(this.renewBefore, lifetime / 3)
  }

  private file (name: string): string { return join(this.opts.dir, `${name}.pem`) }

  private async fromDisk (name: string): Promise<LoadedCertificate | undefined> {
    try {
      const text = await readFile(this.file(name), 'utf8')
      const keyAt = text.indexOf('-----BEGIN PRIVATE KEY-----')
      const cert = checkCertificate(Buffer.from(text.slice(0, keyAt)), Buffer.from(text.slice(keyAt)), `the cached certificate of ${name}`)
      this.certs.set(name, cert)
      return cert
    } catch {
      return undefined
    }
  }

  /** Issue (or renew) one name's certificate; one attempt at a time per name. */
  private async issue (name: string, renewal: boolean): Promise<LoadedCertificate> {
    const running = this.pending.get(name)
    if (running != null) return await running
    const p = this.order(name, renewal).finally(() => { this.pending.delete(name) })
    this.pending.set(name, p)
    return await p
  }

  private async order (name: string, renewal: boolean): Promise<LoadedCertificate> {
    const client = this.client
    const acme = this.acme
    if (client == null || acme == null) throw new AcmeError('ACME is not started')
    const started = performance.now()
    this.log.info({ name, renewal }, renewal ? 'renewing certificate' : 'asking for a certificate')
    try {
      const [key, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey('P-256'))
      const chain = await client.auto({
        csr,
        ...(this.opts.email != null ? { email: this.opts.email } : {}),
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // the CA validates; acme-client's own pre-check would resolve the name through the system's DNS
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => { this.tokens.set(challenge.token, keyAuthorization) },
        challengeRemoveFn: async (_authz, challenge) => { this.tokens.delete(challenge.token) }
      })
      const cert = checkCertificate(Buffer.from(chain), key, `the certificate issued for ${name}`)
      const tmp = `${this.file(name)}.tmp`
      await writeFile(tmp, chain.trimEnd() + '\n' + key.toString(), { mode: 0o600 })
      await rename(tmp, this.file(name))
      this.certs.set(name, cert)
      const ms = Math.round(performance.now() - started)
      this.log.info({ name, notAfter: cert.notAfter.toISOString(), ms }, 'certificate issued')
      this.events.onIssued?.({ name, notAfter: cert.notAfter.toISOString(), renewal, ms })
      return cert
    } catch (err) {
      const error = oneLine(err)
      this.log.warn({ name, err: error }, 'certificate not issued')
      this.events.onFailed?.({ name, error })
      throw new AcmeError(`no certificate for ${name}: ${error}`, err)
    }
  }

  /** GET the directory once, with a short timeout: a clear error for an unreachable server. */
  private async checkDirectory (): Promise<void> {
    const url = this.opts.directoryUrl
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new AcmeError(`'${url}' is not an ACME directory URL`)
    }
    if (parsed.protocol !== 'https:') throw new AcmeError(`the ACME directory URL must be https: ${url}`)
    await new Promise<void>((resolve, reject) => {
      const req = process.getBuiltinModule('node:https').request(parsed, { ...(this.opts.serverCa != null ? { ca: this.opts.serverCa } : {}), timeout: 10_000 }, res => {
        res.resume()
        if (res.statusCode === 200) resolve()
        else reject(new AcmeError(`the ACME server at ${url} answered HTTP ${res.statusCode ?? '?'} for its directory`))
      })
      req.on('timeout', () => { req.destroy(new Error('no answer in 10 s')) })
      req.on('error', err => { reject(err instanceof AcmeError ? err : new AcmeError(`cannot reach the ACME server at ${url}: ${oneLine(err)}`, err)) })
      req.end()
    })
  }
}

function oneLine (err: unknown): string {
  const e = err as { message?: string, code?: string }
  return String(e?.message ?? e?.code ?? err).split('\n')[0] ?? ''
}
