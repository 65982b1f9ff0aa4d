import { readFile } from 'node:fs/promises'
import { X509Certificate } from 'node:crypto'
import type { SecureContext } from 'node:tls'
import { TlsConfigError } from './errors.ts'

/** A certificate chain and its key, checked to belong together. */
export interface LoadedCertificate {
  cert: Buffer
  key: Buffer
  /** When the leaf certificate expires. */
  notAfter: Date
  /** When it became valid. */
  notBefore: Date
  /** The names the leaf certificate covers (its DNS subject alternative names). */
  names: string[]
  context: SecureContext
}

/** Check a PEM certificate chain and key; throws TlsConfigError with one line on anything wrong. */
export function checkCertificate (cert: Buffer, key: Buffer, what = 'the certificate'): LoadedCertificate {
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch {
    throw new TlsConfigError(`${what} is not a PEM certificate`)
  }
  let context: SecureContext
  try {
    // checks the key parses and matches the certificate
    context = process.getBuiltinModule('node:tls').createSecureContext({ cert, key })
  } catch (err) {
    const msg = (err as Error).message
    throw new TlsConfigError(/mismatch|does not match/i.test(msg) ? `the key does not belong to ${what}` : `the key for ${what} cannot be used (${msg.split('\n')[0] ?? msg})`)
  }
  const names = (leaf.subjectAltName ?? '').split(',').map(s => s.trim()).filter(s => s.startsWith('DNS:')).map(s => s.slice(4).toLowerCase())
  return { cert, key, notAfter: new Date(leaf.validTo), notBefore: new Date(leaf.validFrom), names, context }
}

/** Read a certificate and key from PEM files and check them (TlsConfigError on a missing, unreadable or wrong file). */
export async function loadCertificateFiles (certFile: string, keyFile: string): Promise<LoadedCertificate> {
  const read = async (file: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new TlsConfigError(`cannot read the ${what} file ${file}${code === 'ENOENT' ? ': no such file' : code === 'EACCES' ? ': permission denied' : ''}`)
    }
  }
  const cert = await read(certFile, 'certificate')
  const key = await read(keyFile, 'key')
  return checkCertificate(cert, key, `the certificate in ${certFile}`)
}

/** Whether a certificate's names cover `host` (exact, or a wildcard one level deep). */
export function covers (names: string[], host: string): boolean {
  const h = host.toLowerCase()
  return names.some(n => n === h || (n.startsWith('*.') && h.endsWith(n.slice(1)) && !h.slice(0, -n.length + 1).includes('.')))
}
