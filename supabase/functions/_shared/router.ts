// Hono's default router, with the matches of paths without parameters kept.
// A function whose routes RegExpRouter cannot take (in Hono 4.13 a static path
// and a parameter under the same parent, as /expenses/export.csv beside
// /expenses/{id}) is routed by TrieRouter, which walks its tree and builds the
// match's arrays and objects on every request: ~3% of a list's CPU in the
// function and ~4% of what it allocated. The paths most requests take (a list,
// a summary, /auth/me) have no parameters, so their match is the same every
// time: it is kept, per method and path. Hono reads a match and never changes
// it. Paths with parameters (an id) are matched each time, as before.
import type { Result, Router } from 'hono/router'
import { SmartRouter } from 'hono/router/smart-router'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { TrieRouter } from 'hono/router/trie-router'

/** Matches kept per app; past it they are dropped and kept again as they come (any path
 * without parameters is kept, a 404's too, so a client cannot make this grow). */
const MAX_KEPT = 500

export class KeptMatchRouter<T> implements Router<T> {
  readonly name = 'KeptMatchRouter'
  private readonly router = new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] })
  private readonly kept = new Map<string, Result<T>>()
  /** Known after the first match: RegExpRouter keeps its static paths in a map of its own. */
  private keeps?: boolean

  add(method: string, path: string, handler: T): void {
    this.router.add(method, path, handler)
  }

  match(method: string, path: string): Result<T> {
    if (this.keeps === false) return this.router.match(method, path)
    const key = `${method} ${path}`
    const kept = this.kept.get(key)
    if (kept) return kept
    const result = this.router.match(method, path)
    this.keeps ??= !(this.router.activeRouter instanceof RegExpRouter)
    if (this.keeps && withoutParams(result)) {
      if (this.kept.size >= MAX_KEPT) this.kept.clear()
      this.kept.set(key, result)
    }
    return result
  }

  /** For tests: the router that matches, and how many matches are kept. */
  get state(): { active: string; kept: number } {
    return { active: this.router.activeRouter.name, kept: this.kept.size }
  }
}

/** Whether no handler of the match reads a parameter (TrieRouter gives each its params). */
function withoutParams<T>(result: Result<T>): boolean {
  return result[0].every(([, params]) => {
    for (const _ in params) return false
    return true
  })
}
