// The local stack's email signing secret (the key of the unsubscribe links'
// HMAC, PAM_EMAIL_SIGNING_SECRET), generated once and kept in
// `<dir>/email.json` (mode 0600) like the other local keys, so links in mail
// caught before a restart still work.
import { z } from 'zod'

const Stored = z.object({ signingSecret: z.string().min(32) })
export type EmailKeys = z.infer<typeof Stored>

export async function loadOrCreateEmailKeys(dir: string): Promise<EmailKeys> {
  const path = `${dir.replace(/\/+$/, '')}/email.json`
  try {
    return Stored.parse(JSON.parse(await Deno.readTextFile(path)))
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new Error(`${path} is unreadable or malformed; delete it to generate a new secret`, { cause: err })
    }
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const keys = { signingSecret: btoa(String.fromCharCode(...bytes)) }
  await Deno.mkdir(dir, { recursive: true })
  await Deno.writeTextFile(path, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 })
  await Deno.chmod(path, 0o600) // `mode` is masked by the umask
  return keys
}
