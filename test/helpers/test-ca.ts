import { execFileSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A throwaway certificate authority and a certificate it signed, made with openssl in `dir`. */
export interface TestCertificate {
  /** PEM of the CA's certificate (what a client trusts). */
  ca: string
  /** Files of the leaf certificate (chain: leaf then CA) and its key. */
  certFile: string
  keyFile: string
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  spki: string
}

/** Make a CA and a leaf certificate for `names` (e.g. ['*.gw.test', 'gw.test']) valid for `days`. */
export function makeTestCertificate (dir: string, names: string[], days = 2): TestCertificate {
  const f = (n: string): string => join(dir, n)
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }) }
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', String(days), '-subj', '/CN=beam test CA')
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', `/CN=${names[0] ?? 'localhost'}`)
  writeFileSync(f('leaf.ext'), `subjectAltName=${names.map(n => `DNS:${n}`).join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`)
  ssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', String(days), '-extfile', f('leaf.ext'))
  const leaf = readFileSync(f('leaf.pem'), 'utf8')
  const ca = readFileSync(f('ca.pem'), 'utf8')
  writeFileSync(f('chain.pem'), leaf + ca)
  const spkiDer = new X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' })
  return { ca, certFile: f('chain.pem'), keyFile: f('leaf.key'), spki: createHash('sha256').update(spkiDer).digest('base64') }
}
