// Prepares a database the way hosted Supabase has it: bootstrap (roles, auth
// schema), then the project's migrations and seed through the real Supabase CLI.
import postgres from 'postgres'
import { fileURLToPath as fromFileUrl } from 'node:url'
import { withDatabase } from './postgres.ts'

const root = fromFileUrl(new URL('../../', import.meta.url))
const bootstrapSql = fromFileUrl(new URL('./bootstrap.sql', import.meta.url))

/** Creates `database` on the server when it does not exist; returns its URL. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<string> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${database}`
    if (!found) await sql.unsafe(`create database "${database.replaceAll('"', '""')}"`)
  } finally {
    await sql.end()
  }
  return withDatabase(serverUrl, database)
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
  try {
    await sql.unsafe(`drop database if exists "${database.replaceAll('"', '""')}" with (force)`)
  } finally {
    await sql.end()
  }
}

/** Idempotent: roles, extensions, auth schema and helpers. */
export async function bootstrap(databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  try {
    await sql.unsafe(await Deno.readTextFile(bootstrapSql))
  } finally {
    await sql.end()
  }
}

async function supabaseCli(args: string[], databaseUrl: string): Promise<string> {
  const url = new URL(databaseUrl)
  if (!url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'disable')
  const cmd = new Deno.Command(`${root}node_modules/.bin/supabase`, {
    args: [...args, '--db-url', url.toString(), '--workdir', root, '--yes'],
    cwd: root,
    stdout: 'piped',
    stderr: 'piped',
    env: { SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  })
  const out = await cmd.output()
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)
  if (!out.success) throw new Error(`supabase ${args.join(' ')} failed:\n${text}`)
  return text
}

/** Applies pending migrations (`supabase migration up`). */
export async function migrate(databaseUrl: string): Promise<string> {
  return await supabaseCli(['migration', 'up', '--include-all'], databaseUrl)
}

/** Clean slate: drops the project's objects, re-applies migrations and the seed
 * (`supabase db reset`). Auth users are platform data the CLI keeps, so they
 * are emptied first. */
export async function reset(databaseUrl: string, opts: { seed?: boolean } = {}): Promise<string> {
  await bootstrap(databaseUrl)
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  try {
    await sql`truncate auth.users, auth.sessions, auth.refresh_tokens cascade`
  } finally {
    await sql.end()
  }
  return await supabaseCli(['db', 'reset', ...(opts.seed === false ? ['--no-seed'] : [])], databaseUrl)
}

/** A database that has never been migrated gets `db reset` (migrations and
 * seed, or migrations only with `seed: false`); one that has gets `migration up`. */
export async function prepareDatabase(
  databaseUrl: string,
  opts: { seed?: boolean } = {},
): Promise<{ fresh: boolean }> {
  await bootstrap(databaseUrl)
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  let fresh: boolean
  try {
    const [row] = await sql`select to_regclass('supabase_migrations.schema_migrations') as t`
    fresh = row.t === null
  } finally {
    await sql.end()
  }
  if (fresh) await reset(databaseUrl, opts)
  else await migrate(databaseUrl)
  return { fresh }
}
