// Postgres over TLS, as in production (`?sslmode=require` on the connection
// string): a Postgres of our own that accepts TCP connections only over TLS,
// with certificates made here (WebCrypto: nothing to install), reached through
// `_shared/db.ts` as the functions reach theirs.
import './_support/shared-resources.ts'
import postgres from 'postgres'
import { type RunningPostgres, startEmbeddedPostgres } from '../scripts/local/postgres.ts'
import {
  closePools,
  type Database,
  database,
  type DbOptions,
  postgresClient,
} from '../supabase/functions/_shared/db.ts'
import { createApp } from '../supabase/functions/_shared/http.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'

const quiet = { onnotice: () => {} }

Deno.test('db over TLS: the server enforces it, sslmode is honoured, failures are 503', async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: 'pam-ssl-' })
  await Deno.chmod(tmp, 0o755) // as root, Postgres runs as the OS user `postgres`
  const dir = `${tmp}/postgres`
  let pg: RunningPostgres | undefined
  try {
    pg = await startEmbeddedPostgres(dir)
    const { caPem, certPem, keyPem } = await makeCertificates()
    await enforceTls(dir, pg.serverUrl, certPem, keyPem)
    const serverUrl = pg.serverUrl
    const url = (sslmode: string) => `${serverUrl}?sslmode=${sslmode}`
    const dbOptions = (sslmode: string) => ({
      url: url(sslmode),
      poolMax: 2,
      statementTimeoutMs: 2000,
      // Also the connect timeout (5 s): a refusal must come well before it.
      acquireTimeoutMs: 5000,
    })

    await t.step('a connection without TLS is refused by the server', async () => {
      const err = await failure(url('disable'))
      assertEquals(err.code, '28000')
      assertMatch(err.message, /no pg_hba\.conf entry .* no encryption/)
    })

    // The Edge Runtime's Deno (2.1) verifies every certificate, whatever the
    // sslmode: there, TLS needs the CA (PAM_DB_CA_CERT, the step below).
    const alwaysVerifies = Deno.version.deno.startsWith('2.1.')

    await t.step('sslmode=require: RLS-scoped reads and transactions run over TLS', async () => {
      if (!alwaysVerifies) return await assertRlsOverTls(database(dbOptions('require')))
      const refused = await postgresClient(database(dbOptions('require')), null).queryRaw('select 1')
        .then(() => null, (e) => e)
      assertEquals(refused?.code, 'database_unavailable', 'without the CA, Deno 2.1 refuses the certificate')
    })

    await t.step('sslmode=verify-full without the CA is refused', async () => {
      const err = await failure(url('verify-full'))
      assertMatch(err.message, /certificate|UnknownIssuer|TLS|timed out|CONNECT_TIMEOUT/i)
      const refused = await postgresClient(database(dbOptions('verify-full')), null).queryRaw('select 1')
        .then(() => null, (e) => e)
      assertEquals(refused?.code, 'database_unavailable')
    })

    /** A function's app whose one route reads from the database as anon. */
    const functionApp = (sslmode: string, env: Record<string, string> = {}) => {
      const app = createApp(
        'ssl',
        parseConfig({
          SUPABASE_URL: 'http://127.0.0.1:9',
          SUPABASE_DB_URL: url(sslmode),
          PAM_DB_ACQUIRE_TIMEOUT_MS: '5000',
          PAM_LOG_LEVEL: 'error',
          PAM_LOCAL_STACK: 'true',
          ...env,
        }),
      )
      app.get('/', async (c) => c.json(await c.var.postgres.query`select 1 as one`))
      return app
    }

    await t.step({
      name: 'a refused connection is a prompt 503 database_unavailable from a function',
      fn: async () => {
        for (const sslmode of ['disable', 'verify-full']) {
          const started = performance.now()
          const res = await functionApp(sslmode).fetch(new Request('http://local/ssl'))
          const ms = performance.now() - started
          assertEquals(res.status, 503, `sslmode=${sslmode}`)
          assertEquals((await res.json()).error.code, 'database_unavailable')
          assertEquals(res.headers.get('retry-after'), '5')
          assert(
            ms < 2000,
            `sslmode=${sslmode}: answered in ${Math.round(ms)} ms, not refused but timed out`,
          )
        }
      },
    })

    await t.step({
      name: 'sslmode=verify-full with the CA: through db.ts (RLS over TLS) and PAM_DB_CA_CERT',
      fn: async () => {
        const opts: DbOptions = { ...dbOptions('verify-full'), ca: caPem }
        await assertRlsOverTls(database(opts))
        const res = await functionApp('verify-full', { PAM_DB_CA_CERT: caPem })
          .fetch(new Request('http://local/ssl'))
        assertEquals([res.status, await res.json()], [200, [{ one: 1 }]])
      },
    })
  } finally {
    await closePools() // this test file's pools: each file runs in its own isolate
    await pg?.stop()
    await Deno.remove(tmp, { recursive: true })
  }
})

/** A user's transaction and read, both on a TLS connection, see only that user's rows. */
async function assertRlsOverTls(db: Database) {
  const [alice, bob] = [crypto.randomUUID(), crypto.randomUUID()]
  const asAlice = postgresClient(db, { sub: alice, role: 'authenticated' })
  const written = await asAlice.transaction(async (tx) => {
    await tx`insert into notes (body) values ('sent over TLS')`
    return [
      ...await tx`select owner, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl from notes`,
    ]
  })
  assertEquals(written, [{ owner: alice, ssl: true }])
  const [seen] = await asAlice.query`
    select current_user as role, auth_sub() as sub, count(*)::int as notes,
           (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl
      from notes`
  assertEquals({ ...seen }, { role: 'authenticated', sub: alice, notes: 1, ssl: true })
  const asBob = postgresClient(db, { sub: bob, role: 'authenticated' })
  assertEquals(
    [...await asBob.query`select * from notes`],
    [],
    "RLS: Bob sees none of Alice's notes",
  )
}

/** The error a first query on `url` fails with (it must fail). */
async function failure(url: string): Promise<{ code?: string; message: string }> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, ...quiet })
  try {
    await sql`select 1`
  } catch (err) {
    return err as { code?: string; message: string }
  } finally {
    await sql.end({ timeout: 1 })
  }
  throw new Error(`${url} connected`)
}

/** Server certificate and key in place, `ssl = on`, and a pg_hba.conf that
 * takes TCP connections over TLS only; then a table with RLS for the tests, and the
 * function db.ts prepares user reads with. */
async function enforceTls(dir: string, serverUrl: string, certPem: string, keyPem: string) {
  // The server's OS user owns its data directory; it must own the key too.
  const { uid, gid } = await Deno.stat(dir)
  const files = {
    'server.crt': certPem,
    'server.key': keyPem,
    'pg_hba.conf': 'hostssl all all 127.0.0.1/32 scram-sha-256\n',
  }
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text, { mode: 0o600 })
    await Deno.chown(`${dir}/${name}`, uid, gid)
  }
  const sql = postgres(serverUrl, { max: 1, ...quiet })
  await sql.unsafe(`
    create role anon nologin;
    create role authenticated nologin;
    -- pg_stat_ssl shows a session's TLS to roles that may read its statistics
    grant pg_read_all_stats to authenticated;
    create function auth_sub() returns uuid language sql stable
      as $$ select (current_setting('request.jwt.claims', true)::json->>'sub')::uuid $$;
    create table notes (owner uuid not null default auth_sub(), body text not null);
    alter table notes enable row level security;
    create policy notes_own on notes to authenticated using (owner = auth_sub()) with check (owner = auth_sub());
    grant select, insert on notes to authenticated;
    create role service_role nologin;
    create schema pam;
  `)
  // User reads are prepared through this function (db.ts).
  await sql.unsafe(await Deno.readTextFile(new URL('../supabase/migrations/20261130000000_read_plans.sql', import.meta.url)))
  await sql`alter system set ssl = on` // not in a multi-statement string: no transaction
  await sql`select pg_reload_conf()`
  await sql.end()
  // The reload is asynchronous: wait until a connection without TLS is refused.
  for (let tries = 0;; tries++) {
    const plain = postgres(serverUrl, { max: 1, connect_timeout: 2, ...quiet })
    const refused = await plain`select 1`.then(() => false, () => true)
    await plain.end()
    if (refused) return
    if (tries === 50) throw new Error('the server did not reload its configuration')
    await new Promise((r) => setTimeout(r, 50))
  }
}

// --- Certificates: a CA and a server certificate it signs (localhost,
// 127.0.0.1), ECDSA P-256, DER-encoded by hand (X.509, RFC 5280).

async function makeCertificates() {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' }
  const ca = await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const server = await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const caCert = await certificate('PAM test CA', 'PAM test CA', ca.publicKey, ca.privateKey, [
    extension('2.5.29.19', true, seq(tlv(0x01, [0xff]))), // basicConstraints: CA
    extension('2.5.29.15', true, tlv(0x03, [0x01, 0x06])), // keyUsage: keyCertSign, cRLSign
  ])
  const serverCert = await certificate(
    'localhost',
    'PAM test CA',
    server.publicKey,
    ca.privateKey,
    [
      // subjectAltName: DNS localhost, IP 127.0.0.1
      extension('2.5.29.17', false, seq(tlv(0x82, text('localhost')), tlv(0x87, [127, 0, 0, 1]))),
    ],
  )
  const key = new Uint8Array(await crypto.subtle.exportKey('pkcs8', server.privateKey))
  return {
    caPem: pem('CERTIFICATE', caCert),
    certPem: pem('CERTIFICATE', serverCert),
    keyPem: pem('PRIVATE KEY', key),
  }
}

async function certificate(
  subject: string,
  issuer: string,
  publicKey: CryptoKey,
  signer: CryptoKey,
  extensions: Uint8Array[],
) {
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'))
  const now = Date.now()
  const tbs = seq(
    tlv(0xa0, integer([2])), // version 3
    integer(crypto.getRandomValues(new Uint8Array(16))),
    ecdsaWithSha256,
    name(issuer),
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 3_600_000))),
    name(subject),
    new Uint8Array(await crypto.subtle.exportKey('spki', publicKey)),
    tlv(0xa3, seq(...extensions)),
  )
  // WebCrypto signs as r‖s; X.509 wants SEQUENCE { r, s }.
  const rs = new Uint8Array(
    await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signer, tbs),
  )
  const signature = seq(integer(rs.subarray(0, 32)), integer(rs.subarray(32)))
  return seq(tbs, ecdsaWithSha256, tlv(0x03, [0], signature))
}

function tlv(tag: number, ...parts: (Uint8Array | number[])[]) {
  const body = new Uint8Array(parts.flatMap((p) => [...p]))
  const n = body.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return new Uint8Array([tag, ...length, ...body])
}
const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts)
const text = (s: string) => new TextEncoder().encode(s)
const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, text(cn)))))
const extension = (id: string, critical: boolean, value: Uint8Array) =>
  seq(oid(id), ...(critical ? [tlv(0x01, [0xff])] : []), tlv(0x04, value))
const utcTime = (d: Date) => tlv(0x17, text(d.toISOString().replace(/[-:T]|\.\d+/g, '').slice(2)))

/** A DER INTEGER from unsigned big-endian bytes. */
function integer(bytes: Uint8Array | number[]) {
  let b = [...bytes]
  while (b.length > 1 && b[0] === 0) b = b.slice(1)
  return tlv(0x02, b[0] & 0x80 ? [0, ...b] : b)
}

function oid(dotted: string) {
  const [first, second, ...rest] = dotted.split('.').map(Number)
  const out = [40 * first + second]
  for (const n of rest) {
    const chunk = [n & 0x7f]
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f))
    out.push(...chunk)
  }
  return tlv(0x06, out)
}

function pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}
