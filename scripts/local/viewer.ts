// The API reference viewer (@scalar/api-reference, pinned in
// tools/api-reference) is installed apart from the backend's dependencies:
// it is three quarters of the packages an install would fetch, and nothing
// but the docs page needs it. `npm start` installs it in the background once
// the stack is up; the tests install it before they run.
import { fileURLToPath } from 'node:url'

export const VIEWER_DIR = new URL('../../tools/api-reference/', import.meta.url)
const lockfile = new URL('package-lock.json', VIEWER_DIR)
// npm writes this at the end of every install.
const installed = new URL('node_modules/.package-lock.json', VIEWER_DIR)

const mtime = (url: URL) => Deno.stat(url).then((s) => s.mtime?.getTime() ?? 0, () => null)

/** Whether the pinned viewer is installed and as new as its lock file. */
export async function viewerInstalled(): Promise<boolean> {
  const [lock, done] = await Promise.all([mtime(lockfile), mtime(installed)])
  return done !== null && lock !== null && done >= lock
}

/** Installs the pinned viewer when missing or older than its lock file (`npm ci` in tools/api-reference). */
export async function ensureViewer(opts: { quiet?: boolean } = {}): Promise<void> {
  if (await viewerInstalled()) return
  const out = opts.quiet ? 'null' : 'inherit'
  const { success, code } = await new Deno.Command('npm', {
    args: ['ci', '--no-audit', '--no-fund', '--loglevel=error'],
    cwd: fileURLToPath(VIEWER_DIR),
    stdout: out,
    stderr: out,
  }).output()
  if (!success) throw new Error(`npm ci in tools/api-reference failed (exit ${code})`)
}
