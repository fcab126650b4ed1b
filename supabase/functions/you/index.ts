// you: the traveller's own things — the calendar (events, recurrences and
// reminders in their time zone), the road profile and their documents
// (registration, insurance, licences, with scans in storage). Every route is the
// caller's own data through RLS — and the home screen (dashboard.ts).
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerEventRoutes } from './events.ts'
import { registerProfileRoutes } from './profile.ts'
import { registerDocumentRoutes } from './documents.ts'
import { type DashboardOptions, registerDashboardRoutes } from './dashboard.ts'

export function createYouApp(config: Config = getConfig(), options: Partial<DashboardOptions> = {}): App {
  const app = createApp('you', config, "The traveller's calendar (events, recurrences, reminders in their time zone), road profile, documents and home screen.")
  registerEventRoutes(app)
  registerProfileRoutes(app)
  registerDocumentRoutes(app)
  registerDashboardRoutes(app, { now: () => new Date(), ...options })
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createYouApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
