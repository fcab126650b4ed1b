// Finds the project's edge functions (supabase/functions/<name>/index.ts,
// except _shared) and loads their exported `handler`, as the Edge Runtime would.
import { fileURLToPath } from 'node:url'

export type Handler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>

const functionsDir = new URL('../../supabase/functions/', import.meta.url)

export async function loadFunctions(): Promise<Map<string, Handler>> {
  const found = new Map<string, Handler>()
  const names: string[] = []
  for await (const entry of Deno.readDir(fileURLToPath(functionsDir))) {
    if (entry.isDirectory && !entry.name.startsWith('_') && !entry.name.startsWith('.')) names.push(entry.name)
  }
  for (const name of names.sort()) {
    const url = new URL(`${name}/index.ts`, functionsDir)
    const mod = await import(url.href)
    if (typeof mod.handler !== 'function') throw new Error(`supabase/functions/${name}/index.ts exports no handler`)
    found.set(name, mod.handler)
  }
  return found
}
