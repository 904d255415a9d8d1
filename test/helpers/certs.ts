// Certificates for TLS tests, generated with openssl (a missing openssl fails the test file loudly,
// nothing is skipped).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/** A self-signed certificate for 127.0.0.1 that is its own CA, written to `dir`: `{ cert, key, ca }` paths. */
export function selfSigned(dir: string, name: string): { cert: string; key: string; ca: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  // one command, no config file: an EC key, one day, the SAN the client checks (127.0.0.1)
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ],
    { stdio: 'pipe' },
  )
  return { cert, key, ca: cert }
}
