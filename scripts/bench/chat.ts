// `deno run -A scripts/bench/chat.ts` (npm run bench:chat): PAM offline (no
// model) through the local gateway, one message at a time, for the common
// intents: p50/p99 per intent and the time each pipeline stage took (from the
// answers' metadata.latency_ms); then with a local model stub that answers at
// once, what PAM adds around the model (the answer's time minus the model's).
// BENCH_REQUESTS (default 100 per intent).
import { createClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import { percentile, printTable, startBenchStack } from './_stack.ts'

const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 100)

const MESSAGES: Record<string, string[]> = {
  add_expense: [
    'spent $45.50 on diesel at Broken Hill yesterday',
    'paid 32 bucks for groceries at Coles',
    'campsite fee $25 today',
  ],
  spending_summary: ['what did I spend on fuel this month?', 'how much have I spent this week'],
  budget_status: ["how's my food budget going?"],
  maintenance_due: ['oil change due?', 'anything due on the van?'],
  log_fuel: ['filled up 60 litres for $120 at Shell, odo 100450'],
  remember: ['remember that we avoid toll roads'],
  greeting: ['hi pam'],
}

/** An OpenAI-compatible stub that answers at once, without tools. */
function instantModel() {
  const server = Deno.serve(
    { hostname: '127.0.0.1', port: 0, onListen: () => {} },
    () =>
      Response.json({
        id: 'bench',
        object: 'chat.completion',
        model: 'bench-model',
        choices: [{
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: 'Done, mate.' },
        }],
        usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
      }),
  )
  return { url: `http://127.0.0.1:${server.addr.port}/v1`, close: () => server.shutdown() }
}

async function run(mode: 'offline' | 'model') {
  const { stack, stop } = await startBenchStack()
  const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
  try {
    const client = createClient(stack.url, stack.keys.publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    })
    const { data, error } = await client.auth.signUp({
      email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: 'bench-password-1',
    })
    if (error || !data.session) throw error ?? new Error('no session')
    const userId = data.user!.id
    await admin`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${userId}`
    // A year of expenses and a vehicle with maintenance history, so the answers read real data.
    await admin`insert into pam.expenses (user_id, amount, currency, category, category_source, description, date)
              select ${userId}, 10 + g % 90, 'AUD', (pam.wins_builtin_categories())[1 + g % 13], 'user', 'bench ' || g,
                     current_date - (g % 365)
              from generate_series(1, 3650) g`
    const [v] =
      await admin`insert into pam.vehicles (user_id, name) values (${userId}, 'Bench van') returning id`
    await admin`insert into pam.maintenance_records (user_id, vehicle_id, task, date, odometer, interval_days, interval_distance)
              select ${userId}, ${v.id}, 'Task ' || (g % 20), current_date - 400 + g, 90000 + g * 5, 180, 10000
              from generate_series(1, 200) g`
    await admin`analyze`
    const headers = {
      authorization: `Bearer ${data.session.access_token}`,
      apikey: stack.keys.publishableKey,
      'content-type': 'application/json',
    }
    let odometer = 100_450
    const overhead: number[] = []
    const rows: Record<string, string | number>[] = []
    const stages: Record<string, number[]> = {
      context: [],
      classify: [],
      memory: [],
      action: [],
      response: [],
    }
    for (const [intent, messages] of Object.entries(MESSAGES)) {
      const times: number[] = []
      let wrong = 0
      for (let i = 0; i < REQUESTS + 10; i++) {
        let message = messages[i % messages.length]
        if (intent === 'log_fuel') {
          message = `filled up 60 litres for $120 at Shell, odo ${odometer += 400}`
        }
        const t0 = performance.now()
        const res = await fetch(`${stack.url}/functions/v1/chat/messages`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ message }),
        })
        const body = await res.json()
        const ms = performance.now() - t0
        if (res.status !== 201) throw new Error(`${intent}: ${res.status} ${JSON.stringify(body)}`)
        if (i < 10) continue // warm-up
        times.push(ms)
        if (body.message.metadata.intent !== intent) wrong++
        if (mode === 'model') overhead.push(ms - (body.message.metadata.model_latency_ms ?? 0))
        for (const s of Object.keys(stages)) stages[s].push(body.message.metadata.latency_ms[s])
      }
      rows.push({
        intent,
        requests: REQUESTS,
        'p50 ms': percentile(times, 50).toFixed(1),
        'p99 ms': percentile(times, 99).toFixed(1),
        'understood': `${REQUESTS - wrong}/${REQUESTS}`,
      })
    }
    console.log(
      `\nPOST /chat/messages ${
        mode === 'offline' ? 'offline (no model)' : 'with a model stub that answers at once'
      }, through the local gateway, one at a time:`,
    )
    printTable(rows)
    if (mode === 'model') {
      console.log(
        `\nWhat PAM adds around the model (an answer's time minus the model's), p50 ${
          percentile(overhead, 50).toFixed(1)
        } ms, p99 ${percentile(overhead, 99).toFixed(1)} ms`,
      )
    }
    console.log('\nTime in each pipeline stage, over every request above (ms):')
    printTable(
      Object.entries(stages).map(([stage, v]) => ({
        stage,
        'p50 ms': percentile(v, 50).toFixed(2),
        'p99 ms': percentile(v, 99).toFixed(2),
      })),
    )
  } finally {
    await admin.end()
    await stop()
  }
}

// Each mode in a process of its own: a function's app is built once per process, with its environment.
if (Deno.args.includes('--model')) {
  const model = instantModel()
  Deno.env.set('OPENAI_API_KEY', 'bench-key')
  Deno.env.set('OPENAI_BASE_URL', model.url)
  Deno.env.set('PAM_CHAT_DAILY_TOKENS', '100000000')
  try {
    await run('model')
  } finally {
    await model.close()
  }
} else {
  await run('offline')
  const child = new Deno.Command(Deno.execPath(), {
    args: ['run', '-A', new URL(import.meta.url).pathname, '--model'],
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const { code } = await child.output()
  if (code !== 0) Deno.exit(code)
}
