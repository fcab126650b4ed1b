// Certificates for tests of TLS clients (SMTP, the Upstash REST client).

/** A CA and a certificate for 127.0.0.1 it signed, made with the openssl command. Without
 * openssl: null, and the test that asked (`what`) is skipped, except in CI where it fails. */
export async function testCertificates(what: string): Promise<{ ca: string; cert: string; key: string } | null> {
  const dir = await Deno.makeTempDir({ prefix: 'pam-tls-' })
  const run = async (...args: string[]) => {
    const out = await new Deno.Command('openssl', { args, cwd: dir, stdout: 'null', stderr: 'piped' }).output()
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr))
  }
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
    await run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=PAM test CA')
    await run('req', ...ec, '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1')
    await Deno.writeTextFile(`${dir}/ext.cnf`, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    await run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '1', '-extfile', 'ext.cnf')
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`)
    return { ca: await read('ca.pem'), cert: await read('cert.pem'), key: await read('key.pem') }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
    if (Deno.env.get('CI')) throw new Error(`openssl is needed for ${what}`)
    console.warn(`no openssl command: ${what} is skipped`)
    return null
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
}
