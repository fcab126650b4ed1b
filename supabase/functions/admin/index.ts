// admin: the admin portal's API — accounts, moderation, reference data, the
// product's health and the audit log. Every route is for admins only (see
// gate.ts): the token must say so, and pam.admins must still say so when the
// action runs. No user route changes its behaviour for admins.
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerUserRoutes } from './users.ts'
import { registerModerationRoutes } from './moderation.ts'
import { registerCampsiteRoutes } from './campsites.ts'
import { registerExpenseRuleRoutes } from './expense-rules.ts'
import { registerHealthRoutes } from './health.ts'

export function createAdminApp(config: Config = getConfig()): App {
  const app = createApp(
    'admin',
    config,
    'The admin portal: accounts, moderation, reference data, product health and the audit log. Admins only.',
  )
  registerUserRoutes(app)
  registerModerationRoutes(app)
  registerCampsiteRoutes(app)
  registerExpenseRuleRoutes(app)
  registerHealthRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createAdminApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
