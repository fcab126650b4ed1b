// you: the traveller's own things — the calendar (events, recurrences and
// reminders in their time zone) and, in the issues to come, the road profile
// and the home screen. Every route is the caller's own data through RLS.
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerEventRoutes } from './events.ts'

export function createYouApp(config: Config = getConfig()): App {
  const app = createApp('you', config, "The traveller's calendar: events, recurrences and reminders in their time zone.")
  registerEventRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createYouApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
