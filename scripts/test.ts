// `deno task test` runs this after type-checking and linting: it gives the
// suite a throwaway database (on an embedded Postgres in a temporary folder,
// or on the server of TEST_DATABASE_URL), runs `deno test`, and cleans up.
import { startEmbeddedPostgres } from './local/postgres.ts'
import { dropDatabase, ensureDatabase } from './local/database.ts'
import { withDatabase } from './local/postgres.ts'

const given = Deno.env.get('TEST_DATABASE_URL')
const tmp = await Deno.makeTempDir({ prefix: 'pam-test-' })
// Embedded Postgres runs as the OS user `postgres` when we are root.
await Deno.chmod(tmp, 0o755)

const pg = given ? undefined : await startEmbeddedPostgres(`${tmp}/postgres`)
const serverUrl = given ? withDatabase(given, 'postgres') : pg!.serverUrl
const database = `pam_test_${crypto.randomUUID().slice(0, 8)}`
let code = 1
try {
  const databaseUrl = await ensureDatabase(serverUrl, database)
  const child = new Deno.Command(Deno.execPath(), {
    args: ['test', '-A', '--no-check', ...(Deno.args.length ? Deno.args : ['tests/'])],
    env: { PAM_TEST_DATABASE_URL: databaseUrl, PAM_TEST_SERVER_URL: serverUrl, PAM_TEST_TMP: tmp },
    stdin: 'null',
  }).spawn()
  // Interrupted: `deno test` ends (in a terminal it got Ctrl-C itself), then the cleanup below runs.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal)
      } catch { /* already exited */ }
    })
  }
  code = (await child.status).code
} finally {
  // An embedded server goes away with its folder (and after Ctrl-C it may be shutting down already).
  if (given) await dropDatabase(serverUrl, database).catch((e) => console.error(`could not drop ${database}: ${e}`))
  await pg?.stop()
  await Deno.remove(tmp, { recursive: true }).catch(() => {})
}
Deno.exit(code)
