import { checkRls } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'

Deno.test('profiles: RLS for owner, another user and anon', async () => {
  await checkRls({
    table: 'profiles',
    // The sign-up trigger creates the profile with the auth user.
    createOwned: (ownerId) => Promise.resolve(ownerId),
    updateValues: { full_name: 'Changed by test' },
    ownerMayDelete: false,
  })
})

Deno.test('profiles: every user table has RLS enabled', async () => {
  const rows = await adminSql`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('public', 'pam') and c.relkind in ('r', 'p') and not c.relrowsecurity`
  if (rows.length) throw new Error(`tables without RLS: ${rows.map((r) => r.relname).join(', ')}`)
})
