// Who may use the admin function, and how an admin action runs.
//
// A route is a 'user' route (the token verified as everywhere), and then:
// the token must say the caller is an admin (app_metadata.pam_admin, which
// only the secret key, the service role or the database owner can set),
// checked before the request is read (adminRoute), and in the same
// transaction as the action (asAdmin), pam.admins must still list them and
// their session must still exist. So a revoked admin, or one whose session
// ended, is refused at once although their token has not expired.
//
// Actions run as service_role (RLS bypassed: admins act on every user's rows)
// and write their audit record in the same transaction: an action is never
// done without its record, nor recorded without being done.
import type { MiddlewareHandler } from 'hono'
import { type AppContext, type AppEnv, route } from '../_shared/http.ts'
import type { Claims } from '../_shared/db.ts'
import type { Config } from '../_shared/config.ts'
import { database, postgresAdminClient, type PostgresApi, type Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'

/** The admin function's connection without RLS (the pool is database()'s: one per isolate). */
function adminDb(config: Config): PostgresApi {
  return postgresAdminClient(database({
    url: config.databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    acquireTimeoutMs: config.dbAcquireTimeoutMs,
    ca: config.dbCaCert,
  }))
}

export const notAdmin = () => new ApiError(403, 'not_an_admin', 'this route is for PAM admins only')

const claimsAdmin = (claims: Claims | null) => (claims?.app_metadata as { pam_admin?: unknown } | undefined)?.pam_admin === true

/** A 'user' route that refuses a token not claiming an admin right after verifying it,
 * before the request is read or validated (asAdmin checks the database when it acts). */
export const adminRoute: typeof route = (spec) => {
  const r = route(spec)
  const claimCheck: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!claimsAdmin(c.var.claims)) throw notAdmin()
    await next()
  }
  ;(r as unknown as { middleware: MiddlewareHandler[] }).middleware.splice(1, 0, claimCheck as MiddlewareHandler)
  return r
}

export interface AuditEntry {
  action: string
  target_type: string
  target_id: string | null
  before?: unknown
  after?: unknown
}

export interface Admin {
  id: string
  email: string | null
  /** Records one admin action, in the action's transaction. */
  audit(entry: AuditEntry): Promise<void>
}

/** Runs `fn` as service_role for a caller who is an admin now (403 otherwise). */
export async function asAdmin<T>(c: AppContext, fn: (tx: Tx, admin: Admin) => Promise<T>): Promise<T> {
  const claims = c.var.claims!
  if (!claimsAdmin(claims)) throw notAdmin()
  const id = claims.sub!
  const email = typeof claims.email === 'string' ? claims.email : null
  return await adminDb(c.var.config).transaction(async (tx) => {
    await tx`set local role service_role`
    await tx`select pam.require_session(${claims.session_id ?? null}::uuid, ${id}::uuid)`
    const [row] = await tx`select 1 from pam.admins where user_id = ${id}::uuid`
    if (!row) throw notAdmin()
    const admin: Admin = {
      id,
      email,
      audit: async (e) => {
        await tx`
          insert into pam.admin_audit_log (admin_id, admin_email, action, target_type, target_id, before, after, request_id)
          values (${id}::uuid, ${email}, ${e.action}, ${e.target_type}, ${e.target_id},
                  ${e.before === undefined ? null : tx.json(e.before as never)},
                  ${e.after === undefined ? null : tx.json(e.after as never)}, ${c.var.requestId})`
      },
    }
    return await fn(tx, admin)
  })
}

/** 400 about one field of the request. */
export const fieldError = (field: string, message: string) =>
  new ApiError(400, 'invalid_request', message, [{ path: [field], message }])
