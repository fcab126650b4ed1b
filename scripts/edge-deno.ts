// The Deno of Supabase's Edge Runtime (the 2.1 line), from npm: the platform
// package of deno@2.1.x, installed as an optional dependency under an alias so
// that it does not replace the Deno the project's scripts run on. Only the
// platforms npm can record in the lock file are listed in package.json
// (linux x64); elsewhere the Edge Runtime pass of `npm test` is skipped.
import { existsSync } from 'node:fs'

export async function edgeDeno(): Promise<{ path: string; version: string } | undefined> {
  const arch = Deno.build.arch === 'x86_64' ? 'x64' : 'arm64'
  const path = new URL(`../node_modules/deno-edge-${Deno.build.os}-${arch}/deno`, import.meta.url).pathname
  if (!existsSync(path)) return undefined
  const out = await new Deno.Command(path, { args: ['--version'], stdout: 'piped' }).output()
  const version = /deno (\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? '?'
  return { path, version }
}
