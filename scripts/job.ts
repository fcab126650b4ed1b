// `npm run job <name> [-- --at <ISO instant>]`: triggers one job of the running
// local stack now, signed as QStash signs (local/qstash-signing.ts) with the
// stack's local keys. A batched job answers once its batches are published;
// the local QStash then delivers them (the stack's log shows failures).
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { JOB_NAMES, type JobName } from '../supabase/functions/jobs/schedules.ts'
import { loadOrCreateQStashKeys, qstashKeysPath } from './local/qstash-keys.ts'
import { signQStash } from './local/qstash-signing.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = (name: string) => Deno.env.get(name) || undefined

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run job <${JOB_NAMES.join('|')}> [-- --at 2026-11-29T02:00:00Z]`)
  Deno.exit(2)
}

const [name, ...rest] = Deno.args
if (!JOB_NAMES.includes(name as JobName)) usage(name ? `no job named "${name}"` : 'which job?')
let at: string | undefined
if (rest.length) {
  if (rest[0] !== '--at' || rest.length !== 2 || Number.isNaN(Date.parse(rest[1]))) usage(`unexpected arguments: ${rest.join(' ')}`)
  at = new Date(rest[1]).toISOString()
}

const dataDir = resolve(root, env('PAM_DATA_DIR') ?? '.pam')
try {
  await Deno.stat(qstashKeysPath(dataDir))
} catch {
  usage(`no local QStash keys in ${dataDir}: start the local stack first (npm start)`)
}
const keys = await loadOrCreateQStashKeys(dataDir)
const functionsUrl = env('PAM_FUNCTIONS_URL') ?? `http://${env('PAM_HOST') ?? '127.0.0.1'}:${env('PAM_PORT') ?? 54321}/functions/v1`
const url = `${functionsUrl.replace(/\/+$/, '')}/jobs/${name}`
const body = JSON.stringify(at ? { at } : {})

let res: Response
try {
  res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'upstash-signature': await signQStash({ key: keys.currentSigningKey, url, body }),
    },
    body,
  })
} catch (err) {
  console.error(`could not reach ${url} (${err instanceof Error ? err.message : err}); is \`npm start\` running?`)
  Deno.exit(1)
}
const answer = await res.text()
console.log(`${res.status} ${url}\n${answer}`)
Deno.exit(res.ok ? 0 : 1)
