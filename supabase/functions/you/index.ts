// you: the traveller's own things — the calendar (events, recurrences and
// reminders in their time zone) and the road profile. Every route is the
// caller's own data through RLS.
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerEventRoutes } from './events.ts'
import { registerProfileRoutes } from './profile.ts'

export function createYouApp(config: Config = getConfig()): App {
  const app = createApp('you', config, "The traveller's calendar (events, recurrences, reminders in their time zone) and road profile.")
  registerEventRoutes(app)
  registerProfileRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createYouApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
