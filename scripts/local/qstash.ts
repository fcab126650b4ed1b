// The local stand-in for QStash (there is no local QStash server to install):
// the part of its REST API that @upstash/qstash's Client uses for the jobs —
// publish, batch, and schedules (create or replace, list, get, delete) — and
// the deliveries: each message is POSTed to its destination signed as QStash
// signs (qstash-signing.ts), with Upstash-Message-Id, Upstash-Retried and
// Upstash-Schedule-Id, and retried with backoff on any answer but 2xx.
// Schedules fire on their cron (UTC) through croner. Messages with a
// deduplication id seen before are accepted and not delivered again; a flow
// control key with a parallelism limits the deliveries in flight under it.
import { Cron } from 'croner'
import { log } from '../../supabase/functions/_shared/logger.ts'
import type { QStashKeys } from './qstash-keys.ts'
import { signQStash } from './qstash-signing.ts'

export interface LocalQStashOptions {
  keys: QStashKeys
  /** Delay before retry n (0-based); default 1 s doubling to 30 s. */
  retryDelayMs?: (attempt: number) => number
}

interface Message {
  messageId: string
  destination: string
  method: string
  headers: Headers
  body: string
  retries: number
  delayMs: number
  scheduleId?: string
  flow?: { key: string; parallelism: number }
}

export interface Delivery {
  messageId: string
  destination: string
  attempt: number
  status: number | 'error'
  scheduleId?: string
}

interface StoredSchedule {
  scheduleId: string
  cron: string
  destination: string
  method: string
  header: Record<string, string[]>
  body?: string
  retries: number
  delay?: number
  queueName?: string
  label?: string
  flowControlKey?: string
  parallelism?: number
  createdAt: number
  isPaused: boolean
  timer: Cron
}

export interface LocalQStash {
  /** Serves the REST API (paths start at /v2). */
  handler(req: Request, path: string): Promise<Response>
  /** The delivery attempts so far (the latest 10,000), oldest first. */
  deliveries: Delivery[]
  /** Resolves once no delivery is in flight or waiting for a retry. */
  idle(): Promise<void>
  stop(): Promise<void>
}

const FORWARD = 'upstash-forward-'
const DEDUP_WINDOW_MS = 10 * 60_000
/** Delivery attempts remembered (a long-running `npm start` keeps the latest). */
const MAX_DELIVERIES_KEPT = 10_000

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
const error = (message: string, status: number) => json({ error: message }, status)

/** "10s", "5m", "2h" or "1d" in ms. */
function duration(value: string | null): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(value ?? '')
  return m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's']! : 0
}

export function createLocalQStash(opts: LocalQStashOptions): LocalQStash {
  const retryDelay = opts.retryDelayMs ?? ((n: number) => Math.min(1000 * 2 ** n, 30_000))
  const schedules = new Map<string, StoredSchedule>()
  const seen = new Map<string, { messageId: string; at: number }>()
  const deliveries: Delivery[] = []
  const inFlight = new Set<Promise<void>>()
  /** Pending waits (delays, retry backoff), ended early by stop(). */
  const timers = new Map<ReturnType<typeof setTimeout>, () => void>()
  let stopped = false

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => (timers.delete(t), resolve()), ms)
      timers.set(t, resolve)
    })

  /** The message as QStash would hold it: Upstash-Forward-* headers unprefixed, the rest of Upstash-* kept for itself. */
  function messageOf(destination: string, headers: Headers, body: string, scheduleId?: string): Message {
    const forwarded = new Headers()
    for (const [k, v] of headers) {
      if (k.startsWith(FORWARD)) forwarded.set(k.slice(FORWARD.length), v)
      else if (k === 'content-type') forwarded.set(k, v)
    }
    const retries = Number(headers.get('upstash-retries') ?? 3)
    const flowKey = headers.get('upstash-flow-control-key')
    const parallelism = Number(/parallelism=(\d+)/.exec(headers.get('upstash-flow-control-value') ?? '')?.[1])
    return {
      flow: flowKey && parallelism > 0 ? { key: flowKey, parallelism } : undefined,
      messageId: `msg_${crypto.randomUUID().replaceAll('-', '')}`,
      destination,
      method: headers.get('upstash-method') ?? 'POST',
      headers: forwarded,
      body,
      retries: Number.isInteger(retries) && retries >= 0 ? retries : 3,
      delayMs: duration(headers.get('upstash-delay')),
      scheduleId,
    }
  }

  /** Deliveries in flight and waiting, per flow control key. */
  const flows = new Map<string, { running: number; waiting: (() => void)[] }>()

  async function underFlow<T>(flow: Message['flow'], fn: () => Promise<T>): Promise<T> {
    if (!flow) return await fn()
    let f = flows.get(flow.key)
    if (!f) flows.set(flow.key, f = { running: 0, waiting: [] })
    const state = f
    if (state.running >= flow.parallelism) await new Promise<void>((resolve) => state.waiting.push(resolve))
    state.running++
    try {
      return await fn()
    } finally {
      state.running--
      state.waiting.shift()?.()
    }
  }

  async function deliver(msg: Message): Promise<void> {
    if (msg.delayMs) await sleep(msg.delayMs)
    for (let attempt = 0; attempt <= msg.retries && !stopped; attempt++) {
      const headers = new Headers(msg.headers)
      headers.set('upstash-signature', await signQStash({ key: opts.keys.currentSigningKey, url: msg.destination, body: msg.body }))
      headers.set('upstash-message-id', msg.messageId)
      headers.set('upstash-retried', String(attempt))
      if (msg.scheduleId) headers.set('upstash-schedule-id', msg.scheduleId)
      const status = await underFlow(msg.flow, async (): Promise<number | 'error'> => {
        try {
          const res = await fetch(msg.destination, {
            method: msg.method,
            headers,
            body: ['GET', 'HEAD'].includes(msg.method) ? undefined : msg.body,
          })
          await res.body?.cancel()
          return res.status
        } catch {
          return 'error'
        }
      })
      deliveries.push({ messageId: msg.messageId, destination: msg.destination, attempt, status, scheduleId: msg.scheduleId })
      if (deliveries.length > MAX_DELIVERIES_KEPT) deliveries.splice(0, deliveries.length - MAX_DELIVERIES_KEPT)
      if (typeof status === 'number' && status >= 200 && status < 300) return
      log('warn', 'local qstash: delivery failed', { message_id: msg.messageId, destination: msg.destination, status, attempt })
      if (attempt < msg.retries) await sleep(retryDelay(attempt))
    }
    if (!stopped) log('error', 'local qstash: retries exhausted', { message_id: msg.messageId, destination: msg.destination })
  }

  function enqueue(msg: Message, dedupId: string | null): { messageId: string; deduplicated?: boolean } {
    const now = Date.now()
    for (const [k, v] of seen) if (now - v.at > DEDUP_WINDOW_MS) seen.delete(k)
    if (dedupId) {
      const earlier = seen.get(dedupId)
      if (earlier) return { messageId: earlier.messageId, deduplicated: true }
      seen.set(dedupId, { messageId: msg.messageId, at: now })
    }
    const p = deliver(msg).finally(() => inFlight.delete(p))
    inFlight.add(p)
    return { messageId: msg.messageId }
  }

  function validDestination(destination: string): boolean {
    try {
      return ['http:', 'https:'].includes(new URL(destination).protocol)
    } catch {
      return false
    }
  }

  function schedule(destination: string, headers: Headers, body: string): Response {
    const cron = headers.get('upstash-cron')
    if (!cron) return error('Upstash-Cron header is required', 400)
    const scheduleId = headers.get('upstash-schedule-id') ?? `scd_${crypto.randomUUID().replaceAll('-', '')}`
    let timer: Cron
    try {
      timer = new Cron(cron, { timezone: 'UTC', protect: true }, () => {
        enqueue(messageOf(destination, headers, body, scheduleId), null)
      })
    } catch (err) {
      return error(`invalid cron expression: ${(err as Error).message}`, 400)
    }
    schedules.get(scheduleId)?.timer.stop()
    // Forwarded headers as QStash lists them: Canonical-Case names.
    const header: Record<string, string[]> = {}
    const canonical = (name: string) => name.replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase())
    for (const [k, v] of headers) {
      if (k.startsWith(FORWARD) || k === 'content-type') header[canonical(k.replace(FORWARD, ''))] = [v]
    }
    const delay = duration(headers.get('upstash-delay')) / 1000
    const flow = messageOf(destination, headers, body).flow
    schedules.set(scheduleId, {
      scheduleId,
      cron,
      destination,
      method: headers.get('upstash-method') ?? 'POST',
      header,
      body: body || undefined,
      retries: Number(headers.get('upstash-retries') ?? 3),
      delay: delay || undefined,
      queueName: headers.get('upstash-queue-name') ?? undefined,
      label: headers.get('upstash-label') ?? undefined,
      flowControlKey: flow?.key,
      parallelism: flow?.parallelism,
      createdAt: Date.now(),
      isPaused: false,
      timer,
    })
    return json({ scheduleId })
  }

  const shown = ({ timer, ...s }: StoredSchedule) => ({
    ...s,
    nextScheduleTime: timer.nextRun()?.getTime(),
  })

  return {
    deliveries,
    async handler(req, path) {
      if (req.headers.get('authorization') !== `Bearer ${opts.keys.token}`) return error('Unauthorized', 401)
      const publish = /^\/v2\/publish\/(.+)$/.exec(path)
      if (publish && req.method === 'POST') {
        const destination = decodeURIComponent(publish[1])
        if (!validDestination(destination)) return error('invalid destination url', 400)
        const msg = messageOf(destination, req.headers, await req.text())
        return json(enqueue(msg, req.headers.get('upstash-deduplication-id')), 201)
      }
      if (path === '/v2/batch' && req.method === 'POST') {
        let items: { destination?: string; headers?: Record<string, string>; body?: string }[]
        try {
          items = await req.json()
          if (!Array.isArray(items)) throw new Error()
        } catch {
          return error('the body must be a JSON array of messages', 400)
        }
        if (items.some((m) => typeof m.destination !== 'string' || !validDestination(m.destination))) {
          return error('invalid destination url', 400)
        }
        return json(items.map((m) => {
          const headers = new Headers(m.headers ?? {})
          return enqueue(messageOf(m.destination!, headers, m.body ?? ''), headers.get('upstash-deduplication-id'))
        }), 201)
      }
      if (path === '/v2/schedules' && req.method === 'GET') return json([...schedules.values()].map(shown))
      const one = /^\/v2\/schedules\/(.+)$/.exec(path)
      if (one && req.method === 'POST') {
        const destination = decodeURIComponent(one[1])
        if (!validDestination(destination)) return error('invalid destination url', 400)
        return schedule(destination, req.headers, await req.text())
      }
      const toggle = /^\/v2\/schedules\/(.+)\/(pause|resume)$/.exec(path)
      if (toggle && req.method === 'PATCH') {
        const found = schedules.get(decodeURIComponent(toggle[1]))
        if (!found) return error('schedule not found', 404)
        found.isPaused = toggle[2] === 'pause'
        if (found.isPaused) found.timer.pause()
        else found.timer.resume()
        return new Response(null, { status: 200 })
      }
      if (one && (req.method === 'GET' || req.method === 'DELETE')) {
        const found = schedules.get(decodeURIComponent(one[1]))
        if (!found) return error('schedule not found', 404)
        if (req.method === 'GET') return json(shown(found))
        found.timer.stop()
        schedules.delete(found.scheduleId)
        return new Response(null, { status: 200 })
      }
      return error(`no route for ${req.method} ${path}`, 404)
    },
    async idle() {
      while (inFlight.size) await Promise.allSettled([...inFlight])
    },
    async stop() {
      stopped = true
      for (const s of schedules.values()) s.timer.stop()
      for (const [t, resolve] of timers) {
        clearTimeout(t)
        resolve()
      }
      timers.clear()
      // Deliveries waiting for a retry end now; one in flight finishes its request.
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 2000))])
    },
  }
}
