// in-process CPU per request: handler called directly, no network
import process from 'node:process'
import { startStack } from '../local/stack.ts'
import { loadFunctions } from '../local/functions.ts'
const stack = await startStack({ dataDir: '/tmp/prof/keys', databaseUrl: 'postgres://root@127.0.0.1:5432/pam_prof', port: 0, seed: false, cache: Deno.env.get('CACHE') === 'upstash' ? 'auto' : 'memory', authSettings: { rateLimit: { signInSignUps: 1e9, tokenRefresh: 1e9 } } })
const fns = await loadFunctions()
const key = stack.keys.publishableKey
const res = await fetch(`${stack.url}/auth/v1/token?grant_type=password`, { method: 'POST', headers: { apikey: key, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'caller@bench.local', password: 'bench-password-1' }) })
const token = (await res.json()).access_token
const headers = { authorization: `Bearer ${token}`, apikey: key }
const info = { remoteAddr: { transport: 'tcp', hostname: '127.0.0.1', port: 5555 } } as unknown as Deno.ServeHandlerInfo
const paths = (Deno.env.get('PATHS') ?? 'health,auth/me,wins/summary,wins/expenses?limit=20').split(',')
const conc = Number(Deno.env.get('CONC') ?? 4)
for (const path of paths) {
  const name = path.split('/')[0].split('?')[0]
  const fn = fns.get(name)!
  const call = async () => {
    const r = await fn(new Request(`${stack.url}/functions/v1/${path}`, { headers }), info)
    await r.arrayBuffer()
    if (r.status !== 200) throw new Error(`${path} ${r.status}`)
  }
  const N = path.includes('expenses') ? 3000 : 20000
  for (let i = 0; i < 500; i++) await call()
  const best: number[] = []
  for (let rep = 0; rep < 3; rep++) {
    const c0 = process.cpuUsage(); const t0 = performance.now()
    await Promise.all(Array.from({ length: conc }, async () => { for (let i = 0; i < N / conc; i++) await call() }))
    const c = process.cpuUsage(c0); const wall = performance.now() - t0
    best.push((c.user + c.system) / N); console.error(path, "user", (c.user / N).toFixed(0), "sys", (c.system / N).toFixed(0))
    void wall
  }
  console.log(`${path.padEnd(28)} cpu us/req min ${Math.min(...best).toFixed(1)}  all ${best.map((b) => b.toFixed(0)).join(' ')}`)
}
await stack.stop()
Deno.exit(0)
