// The local stack's QStash credentials: two signing keys (current and next,
// as QStash has) and the API token the functions publish with. Generated once
// and kept in `<dir>/qstash.json` (mode 0600) like the other local keys, so
// `npm run job` can sign for the running stack.
import { z } from 'zod'

const StoredKeys = z.object({
  currentSigningKey: z.string().startsWith('sig_'),
  nextSigningKey: z.string().startsWith('sig_'),
  token: z.string().min(20),
})
export type QStashKeys = z.infer<typeof StoredKeys>

const random = (bytes: number) =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes)))).replace(/[+/=]/g, '')

export const qstashKeysPath = (dir: string) => `${dir.replace(/\/+$/, '')}/qstash.json`

export async function loadOrCreateQStashKeys(dir: string): Promise<QStashKeys> {
  const path = qstashKeysPath(dir)
  try {
    return StoredKeys.parse(JSON.parse(await Deno.readTextFile(path)))
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new Error(`${path} is unreadable or malformed; delete it to generate new keys`, { cause: err })
    }
  }
  const keys = { currentSigningKey: `sig_${random(21)}`, nextSigningKey: `sig_${random(21)}`, token: `local_${random(30)}` }
  await Deno.mkdir(dir, { recursive: true })
  await Deno.writeTextFile(path, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 })
  await Deno.chmod(path, 0o600) // `mode` is masked by the umask
  return keys
}
