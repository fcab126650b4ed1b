// social: the travellers' community — groups, posts, comments, likes, the
// feed, friends, and reports and moderation. Rows here are shared between
// users, so RLS decides visibility as well as ownership (see the social
// migration); every route queries as the caller through c.var.postgres.
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerGroupRoutes } from './groups.ts'
import { registerPostRoutes } from './posts.ts'
import { registerCommentRoutes } from './comments.ts'
import { registerFriendRoutes } from './friends.ts'
import { registerReportRoutes } from './reports.ts'

export function createSocialApp(config: Config = getConfig()): App {
  const app = createApp(
    'social',
    config,
    'The community: groups, posts, comments and likes, the feed, friends, reports and group moderation.',
  )
  registerGroupRoutes(app)
  registerPostRoutes(app)
  registerCommentRoutes(app)
  registerFriendRoutes(app)
  registerReportRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createSocialApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
