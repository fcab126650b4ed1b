// `npm run admin:grant -- <email>` / `npm run admin:revoke -- <email>`: makes
// an account a PAM admin, or no longer one (pam.admin_grant / admin_revoke:
// app_metadata.pam_admin, which only the database owner, the service role
// or the secret key can set, and the pam.admins row every admin action
// checks). Connects to PAM_DB_URL or SUPABASE_DB_URL (a hosted project's
// connection string), else to the local stack's database (`npm start`).
// The grantee's next token carries the grant: they sign in again (or the app
// refreshes the session); a revocation takes effect at once.
import postgres from 'postgres'

const env = (name: string) => Deno.env.get(name) || undefined
const [mode, email, ...rest] = Deno.args

if (!['grant', 'revoke'].includes(mode) || !email || rest.length || !email.includes('@')) {
  console.error('usage: npm run admin:grant -- <email>   |   npm run admin:revoke -- <email>')
  Deno.exit(2)
}

const url = env('PAM_DB_URL') ?? env('SUPABASE_DB_URL') ??
  `postgres://postgres:postgres@${env('PAM_HOST') ?? '127.0.0.1'}:${env('PAM_DB_PORT') ?? 54332}/postgres`
const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {}, connect_timeout: 10 })
try {
  const [row] = await sql.unsafe(`select pam.admin_${mode}($1) as id`, [email])
  console.log(mode === 'grant'
    ? `${email} (${row.id}) is an admin: their next sign-in (or session refresh) carries the grant`
    : `${email} (${row.id}) is no longer an admin (refused at once, whatever their token says)`)
} catch (err) {
  const e = err as { code?: string; message?: string }
  console.error(e.code === 'P0002' ? e.message : `could not ${mode}: ${e.message ?? err}`)
  Deno.exitCode = 1
} finally {
  await sql.end({ timeout: 5 })
}
