// `npm test` runs this after type-checking and linting: it gives the suite a
// throwaway database (on an embedded Postgres in a temporary folder, or on the
// server of TEST_DATABASE_URL), runs `deno test`, and cleans up. The suite runs
// twice: on this Deno, then on the Deno of Supabase's Edge Runtime (2.1, from
// npm; see edge-deno.ts), each on a fresh database, so nothing newer than
// production passes unnoticed. PAM_TEST_EDGE=skip runs the first pass only.
import { startEmbeddedPostgres } from './local/postgres.ts'
import { dropDatabase, ensureDatabase } from './local/database.ts'
import { withDatabase } from './local/postgres.ts'
import { edgeDeno } from './edge-deno.ts'
import { ensureViewer } from './local/viewer.ts'

// The API reference tests need its viewer (installed apart from the rest: see local/viewer.ts).
await ensureViewer()

const given = Deno.env.get('TEST_DATABASE_URL')
const tmp = await Deno.makeTempDir({ prefix: 'pam-test-' })
// Embedded Postgres runs as the OS user `postgres` when we are root.
await Deno.chmod(tmp, 0o755)

const pg = given ? undefined : await startEmbeddedPostgres(`${tmp}/postgres`)
const serverUrl = given ? withDatabase(given, 'postgres') : pg!.serverUrl
const databases: string[] = []
let interrupted = false
let code = 0
try {
  const files = Deno.args.length ? Deno.args : ['tests/']
  const passes: [string, string, string[]][] = [[Deno.execPath(), `Deno ${Deno.version.deno}`, files]]
  if (Deno.env.get('PAM_TEST_EDGE') !== 'skip') {
    const edge = await edgeDeno()
    // `npm start` runs on the project's Deno whatever runs its test (which needs
    // process groups the older Deno lacks): that file is for the first pass only.
    const onEdge = files.length === 1 && files[0] === 'tests/'
      ? [...Deno.readDirSync('tests')].filter((e) => e.isFile && e.name.endsWith('_test.ts') && e.name !== 'start_test.ts')
        .map((e) => `tests/${e.name}`).sort()
      : files.filter((f) => !f.endsWith('start_test.ts'))
    if (edge && onEdge.length) passes.push([edge.path, `Deno ${edge.version} (the Edge Runtime's)`, onEdge])
    else if (Deno.env.get('CI')) throw new Error('no Deno of the Edge Runtime for this platform: CI must run both passes')
    else console.error('\n(no Deno 2.1 for this platform in node_modules: the Edge Runtime pass is skipped)\n')
  }
  for (const [deno, name, tests] of passes) {
    if (interrupted) break
    const database = `pam_test_${crypto.randomUUID().slice(0, 8)}`
    databases.push(database)
    const databaseUrl = await ensureDatabase(serverUrl, database)
    console.log(`\n== the suite on ${name} ==\n`)
    const child = new Deno.Command(deno, {
      args: ['test', '-A', '--no-check', ...tests],
      env: { PAM_TEST_DATABASE_URL: databaseUrl, PAM_TEST_SERVER_URL: serverUrl, PAM_TEST_TMP: tmp },
      stdin: 'null',
    }).spawn()
    // Interrupted: `deno test` ends (in a terminal it got Ctrl-C itself), then the cleanup below runs.
    const stop = (signal: Deno.Signal) => () => {
      interrupted = true
      try {
        child.kill(signal)
      } catch { /* already exited */ }
    }
    const listeners = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, stop(s)] as const)
    for (const [s, l] of listeners) Deno.addSignalListener(s, l)
    const status = (await child.status).code
    for (const [s, l] of listeners) Deno.removeSignalListener(s, l)
    if (status !== 0) {
      console.error(`\nthe suite failed on ${name}`)
      code ||= status
    }
  }
} finally {
  // An embedded server goes away with its folder (and after Ctrl-C it may be shutting down already).
  if (given) {
    for (const database of databases) {
      await dropDatabase(serverUrl, database).catch((e) => console.error(`could not drop ${database}: ${e}`))
    }
  }
  await pg?.stop()
  await Deno.remove(tmp, { recursive: true }).catch(() => {})
}
Deno.exit(code)
