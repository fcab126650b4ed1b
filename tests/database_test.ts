// The local database path: the bootstrap is idempotent, and `supabase db
// reset` (through prepareDatabase/reset) gives a clean slate with the seed.
import './_support/shared-resources.ts'
import postgres from 'postgres'
import { assertEquals } from './_support/assert.ts'
import { bootstrap, dropDatabase, ensureDatabase, prepareDatabase, reset } from '../scripts/local/database.ts'

const serverUrl = Deno.env.get('PAM_TEST_SERVER_URL')!

Deno.test('database: bootstrap twice, migrate, reset to a clean seeded slate', async () => {
  const name = `pam_dbtest_${crypto.randomUUID().slice(0, 8)}`
  const url = await ensureDatabase(serverUrl, name)
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await bootstrap(url)
    await bootstrap(url)
    assertEquals(await prepareDatabase(url), { fresh: true })
    assertEquals(await prepareDatabase(url), { fresh: false }, 'a second start only migrates')
    const [roles] = await sql`select count(*)::int as n from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')`
    assertEquals(roles.n, 4)
    const [demo] = await sql`select p.full_name from pam.profiles p join auth.users u on u.id = p.id where u.email = 'demo@pam.local'`
    assertEquals(demo.full_name, 'Demo Traveller', 'the seed ran and the trigger made the profile')

    await sql`insert into auth.users (email) values ('temp@example.com')`
    await sql`update pam.profiles set full_name = 'changed' where email = 'demo@pam.local'`
    await reset(url)
    const users = await sql`select email from auth.users order by email`
    assertEquals(users.map((u) => u.email), ['demo@pam.local'])
    const [again] = await sql`select full_name from pam.profiles`
    assertEquals(again.full_name, 'Demo Traveller')
    const [{ uid }] = await sql`select set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-8000-000000000001","role":"authenticated"}', false), auth.uid() as uid`
    assertEquals(uid, '00000000-0000-4000-8000-000000000001')
  } finally {
    await sql.end()
    await dropDatabase(serverUrl, name)
  }
})
