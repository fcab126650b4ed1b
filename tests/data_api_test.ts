// What apps may do through the Data API (PostgREST and pg_graphql on hosted
// Supabase): nothing of PAM's. Its tables live in the schema `pam`, which is
// not exposed; every write goes through the edge functions, which classify,
// alert and invalidate caches around it. These checks keep it that way as
// areas are added.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql } from './_support/stack.ts'

const configToml = await Deno.readTextFile(new URL('../supabase/config.toml', import.meta.url))
const apiSection = configToml.split(/^\[/m).find((s) => s.startsWith('api]')) ?? ''
const exposed = [...(/^schemas\s*=\s*\[([^\]]*)\]/m.exec(apiSection)?.[1] ?? '').matchAll(/"([^"]+)"/g)]
  .map((m) => m[1])

Deno.test('data api: the pam schema is not exposed', () => {
  assert(exposed.length > 0, 'config.toml names its exposed schemas')
  assert(!exposed.includes('pam'), 'pam must never be an exposed schema')
})

Deno.test('data api: anon and authenticated can use nothing in the exposed schemas', async () => {
  const schemas = [...new Set([...exposed, 'public', 'graphql_public'])]
  // Objects an extension installed are the platform's, not ours.
  const relations = await adminSql`
    select n.nspname || '.' || c.relname as name, r.role
    from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      cross join (values ('anon'), ('authenticated')) as r(role)
    where n.nspname = any(${schemas}) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      and (has_table_privilege(r.role, c.oid, 'select, insert, update, delete')
        or (c.relkind = 'S' and has_sequence_privilege(r.role, c.oid, 'usage')))`
  assertEquals(relations.map((r) => `${r.role}: ${r.name}`), [], 'relations usable through the Data API')
  const functions = await adminSql`
    select p.oid::regprocedure::text as name, r.role
    from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      cross join (values ('anon'), ('authenticated')) as r(role)
    where n.nspname = any(${schemas})
      and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      and has_function_privilege(r.role, p.oid, 'execute')`
  assertEquals(functions.map((f) => `${f.role}: ${f.name}`), [], 'functions callable through the Data API (rpc)')
})

Deno.test('data api: every PAM table is in the pam schema, with RLS on', async () => {
  const tables = await adminSql`
    select n.nspname, c.relname, c.relrowsecurity
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname in ('public', 'pam')`
  assert(tables.length >= 9, 'the tables exist')
  for (const t of tables) {
    assertEquals(t.nspname, 'pam', `${t.relname} is outside the pam schema`)
    assert(t.relrowsecurity, `pam.${t.relname} has RLS off`)
  }
  const [usage] = await adminSql`
    select has_schema_privilege('anon', 'pam', 'usage') as anon,
           has_schema_privilege('authenticated', 'pam', 'usage') as authenticated`
  assertEquals(usage, { anon: false, authenticated: true })
})
