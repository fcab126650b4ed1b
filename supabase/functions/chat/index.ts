// chat: talking to PAM. POST /chat/messages runs one turn of the pipeline
// (_shared/pam: context → classify → memory → the model with the tools, or
// offline: act → reply) — as JSON, or as server-sent events with
// `Accept: text/event-stream` — and keeps both
// messages, with what PAM understood and did in the assistant message's
// metadata; conversations, their messages, PAM's memories of the traveller,
// feedback on answers and per-intent stats from it.
import { createApp, readThroughCache, route, z } from '../_shared/http.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import type { App, AppContext } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { ApiError, errorBody, notFound } from '../_shared/errors.ts'
import { errorFields, log } from '../_shared/logger.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import {
  body,
  errorOf,
  IdParams,
  isoSql,
  json,
  newestFirst,
  params,
  patchOf,
  registerResource,
  Uuid,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, oneLine, singleLineText } from '../_shared/text.ts'
import { changedSomething, converse, type TurnInput } from '../_shared/pam/pipeline.ts'
import { MEMORY_SELECT } from '../_shared/pam/memory.ts'
import { insightsFor } from '../_shared/pam/insights.ts'

export interface ChatOptions {
  now: () => Date
}

/** Longest message PAM reads. */
export const MAX_MESSAGE_CHARS = 2000

const Message = z.object({
  id: z.string(),
  conversation_id: z.string(),
  role: z.enum(['user', 'assistant', 'tool', 'system']),
  content: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.string(),
}).openapi('ChatMessage')
const MESSAGE_COLUMNS = `m.id, m.conversation_id, m.role, m.content, m.metadata, ${isoSql('m.created_at')} as created_at`

const Conversation = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['active', 'archived']),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Conversation')

const tags = ['chat']

const send = route({
  method: 'post',
  path: '/messages',
  auth: 'user',
  rateLimit: 'chat',
  tags,
  summary: 'Talk to PAM: one message in, PAM\'s answer out, with the intent and the actions taken (and their results)',
  request: body(z.object({
    message: multiLineText({ max: MAX_MESSAGE_CHARS }).openapi({ example: 'spent $45.50 on diesel at Broken Hill yesterday' }),
    conversation_id: Uuid.optional().openapi({ description: 'omit to start a new conversation' }),
    context: z.object({
      location: z.object({ lat: z.number().min(-90).max(90), lng: z.number().min(-180).max(180) }).strict().optional(),
      timezone: z.string().max(64).optional().openapi({ description: "the device's; used when the profile has none" }),
      current_page: singleLineText({ max: 100 }).optional().openapi({ description: 'the app screen, told to the model' }),
    }).strict().optional(),
  }).strict().openapi('ChatSend')),
  responses: {
    201: {
      description: "PAM's answer",
      ...json(z.object({ conversation_id: z.string(), user_message_id: z.string(), message: Message })),
    },
    404: errorOf('No such conversation'),
  },
})

const history = route({
  method: 'get',
  path: '/conversations/{id}/messages',
  auth: 'user',
  tags,
  summary: "A conversation's messages, newest first",
  request: { params: IdParams, query: z.object(PageQuery) },
  responses: {
    200: { description: 'A page', ...json(z.object({ messages: z.array(Message), next_cursor: z.string().nullable() })) },
    404: errorOf('No such conversation'),
  },
})

const Memory = z.object({
  id: z.string(),
  kind: z.enum(['fact', 'preference', 'event']),
  content: z.string(),
  importance: z.number(),
  created_at: z.string(),
}).openapi('Memory')

const feedback = route({
  method: 'post',
  path: '/messages/{id}/feedback',
  auth: 'user',
  tags,
  summary: 'Rate one of PAM\'s answers (again: replaces your rating)',
  request: {
    params: IdParams,
    ...body(z.object({
      rating: z.number().int().min(1).max(5),
      routing_correct: z.boolean().optional().openapi({ description: 'did PAM understand what you wanted?' }),
      comment: multiLineText({ min: 0, max: 2000 }).optional(),
    }).strict().openapi('ChatFeedback')),
  },
  responses: {
    200: { description: 'Stored', ...json(z.object({ feedback: z.object({ message_id: z.string(), rating: z.number(), routing_correct: z.boolean().nullable(), comment: z.string() }) })) },
    404: errorOf("No such answer of PAM's"),
  },
})

const insights = route({
  method: 'get',
  path: '/insights',
  auth: 'user',
  tags,
  summary: "A 360° summary across money, vehicle and trips, with insights that join them (also PAM's get_insights tool)",
  request: {
    query: z.object({
      months: z.string().regex(/^\d{1,2}$/).transform(Number).pipe(z.number().int().min(1).max(12)).default(3)
        .openapi({ type: 'integer', minimum: 1, maximum: 12, default: 3, description: 'how far ahead to predict maintenance' }),
    }),
  },
  responses: {
    200: {
      description: 'The summary',
      ...json(z.object({
        currency: z.string(),
        today: z.string(),
        month: z.record(z.string(), z.string()),
        daily_road_cost: z.string(),
        budgets: z.array(z.record(z.string(), z.unknown())),
        maintenance: z.record(z.string(), z.unknown()),
        vehicle_usage: z.array(z.record(z.string(), z.unknown())),
        trips: z.array(z.record(z.string(), z.unknown())),
        hustle_profit: z.string(),
        insights: z.array(z.string()),
      })),
    },
  },
})

const stats = route({
  method: 'get',
  path: '/stats',
  auth: 'user',
  tags,
  summary: 'Per intent: how often, how PAM was rated, and how often it understood (from your feedback)',
  responses: {
    200: {
      description: 'Stats',
      ...json(z.object({
        intents: z.array(z.object({
          intent: z.string(),
          messages: z.number(),
          rated: z.number(),
          average_rating: z.number().nullable(),
          routing_accuracy: z.number().nullable().openapi({ description: 'share of routing_correct answers among those judged' }),
        })),
      })),
    },
  },
})

/** The conversation (the one named, else a new one) and the user's message in it: one transaction. */
async function conversationAndMessage(c: AppContext, id: string | undefined, message: string) {
  return await writeTransaction(c, async (tx) => {
    let conversationId = id
    if (conversationId) {
      const [row] = await tx`update pam.conversations set updated_at = now() where id = ${conversationId} returning id`
      if (!row) throw notFound('conversation')
    } else {
      const title = oneLine(message, 60)
      const [row] = await tx`insert into pam.conversations (title) values (${title}) returning id`
      conversationId = row.id as string
    }
    const [m] = await tx`insert into pam.messages (conversation_id, role, content) values (${conversationId}, 'user', ${message})
      returning id`
    return { conversationId: conversationId!, userMessageId: m.id as string }
  })
}

/** One turn of PAM, kept: the assistant message with what PAM understood and did in its metadata. */
async function answer(c: AppContext, conversationId: string, userMessageId: string, input: TurnInput) {
  const started = performance.now()
  const turn = await converse(c, input)
  const metadata = {
    intent: turn.intent,
    confidence: turn.confidence,
    entities: turn.entities,
    actions: turn.actions,
    memories: turn.memories,
    mode: turn.mode,
    ...turn.model,
    latency_ms: { ...turn.timings_ms, total: Math.round((performance.now() - started) * 100) / 100 },
  }
  let message: z.infer<typeof Message>
  try {
    const rows = await writeTransaction(c, (tx) =>
      tx.unsafe(
        `insert into pam.messages as m (conversation_id, role, content, metadata)
         values ($1::uuid, 'assistant', $2, $3::text::jsonb) returning ${MESSAGE_COLUMNS}`,
        [conversationId, turn.reply, JSON.stringify(metadata)] as never[],
      )
    )
    message = rows[0] as unknown as z.infer<typeof Message>
  } catch (err) {
    // What PAM did stands; an error would have the app send the message again and do it twice. The
    // answer is given all the same, marked as not kept in the conversation.
    if (!changedSomething(turn.actions)) throw err
    log('error', 'chat answer not kept', { request_id: c.var.requestId, conversation_id: conversationId, ...errorFields(err) })
    message = {
      id: crypto.randomUUID(),
      conversation_id: conversationId,
      role: 'assistant',
      content: turn.reply,
      metadata: { ...metadata, kept: false },
      created_at: new Date().toISOString(),
    } as z.infer<typeof Message>
  }
  await forgetHistory(c, conversationId)
  return { conversation_id: conversationId, user_message_id: userMessageId, message }
}

/** The conversation's cached latest page is stale. */
const forgetHistory = (c: AppContext, id: string) =>
  c.var.cache.invalidate(c.var.userId!, CACHE_POLICIES.conversation_history.key(c.var.userId!, id))

const wantsStream = (c: AppContext) => (c.req.header('accept') ?? '').toLowerCase().includes('text/event-stream')

/** The answer as server-sent events: `delta` {text} as the model writes (offline: the whole
 * reply at once), then `done` with the body the JSON route answers — its message is what was
 * kept, and wins over the deltas — or `error` {error: {code, message}}. */
function streamed(c: AppContext, turn: (onDelta: (text: string) => void) => Promise<{ message: { content: string } }>): Response {
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let open = true
      const send = (event: string, data: unknown) => {
        if (!open) return
        try {
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`))
        } catch {
          open = false // the client went away; the turn still completes and is kept
        }
      }
      let deltas = 0
      try {
        const done = await turn((text) => {
          deltas++
          send('delta', { text })
        })
        if (!deltas && done.message.content) send('delta', { text: done.message.content })
        send('done', done)
      } catch (err) {
        const e = err instanceof ApiError ? err : undefined
        if (!e) log('error', 'chat stream failed', { request_id: c.var.requestId, ...errorFields(err) })
        send('error', errorBody(e?.code ?? 'internal_error', e?.message ?? 'something went wrong on our side'))
      }
      if (open) controller.close()
    },
  })
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      'x-accel-buffering': 'no',
      'x-request-id': c.var.requestId,
      'x-content-type-options': 'nosniff',
    },
  })
}

export function createChatApp(config: Config = getConfig(), options: Partial<ChatOptions> = {}): App {
  const opts: ChatOptions = { now: () => new Date(), ...options }
  const app = createApp('chat', config, 'PAM, the assistant: talk to it to record and ask about money, the vehicle and trips.')

  app.openapi(send, async (c) => {
    const input = c.req.valid('json')
    const { conversationId, userMessageId } = await conversationAndMessage(c, input.conversation_id, input.message)
    await forgetHistory(c, conversationId)
    const turn = (onDelta?: (text: string) => void) =>
      answer(c, conversationId, userMessageId, {
        message: input.message,
        messageId: userMessageId,
        request: {
          location: input.context?.location,
          timezone: input.context?.timezone,
          currentPage: input.context?.current_page,
        },
        now: opts.now(),
        onDelta,
      })
    if (!wantsStream(c)) return c.json((await turn()) as never, 201)
    return streamed(c, turn) as never
  })

  app.openapi(history, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const load = async () => {
      const { values, p } = params()
      const where = [`m.conversation_id = ${p(id)}::uuid`]
      if (cursor) {
        const [t, mid] = decodeCursor(cursor, ['timestamp', 'uuid'])
        where.push(`(m.created_at, m.id) < (${p(t)}::text::timestamptz, ${p(mid)}::uuid)`)
      }
      const [found] = await c.var.postgres.queryRaw<{ messages: z.infer<typeof Message>[] | null }>(
        `select (select json_agg(r order by r.created_at desc, r.id desc) from (
                  select ${MESSAGE_COLUMNS} from pam.messages m where ${where.join(' and ')}
                  order by m.created_at desc, m.id desc limit ${p(limit + 1)}) r) as messages
         from pam.conversations c where c.id = $1::uuid`,
        values,
      )
      if (!found) throw notFound('conversation')
      return { user: c.var.userId!, limit, ...page(found.messages ?? [], limit, (m) => [m.created_at, m.id]) }
    }
    // The latest page is cached per conversation, under its owner's key (chat_history:{user}#{id}).
    const policy = CACHE_POLICIES.conversation_history
    const { value, status } = cursor ? { value: await load(), status: 'bypass' as const } : await readThroughCache(
      c,
      policy.key(c.var.userId!, id),
      policy.ttl,
      load,
      (v) => v.user === c.var.userId && v.limit === limit,
    )
    c.set('cacheStatus', status)
    return c.json({ messages: value.items, next_cursor: value.next_cursor } as never, 200)
  })

  app.openapi(feedback, async (c) => {
    const { id } = c.req.valid('param')
    const input = c.req.valid('json')
    const [row] = await writeTransaction(c, async (tx) => {
      const [answer] = await tx`select 1 from pam.messages where id = ${id} and role = 'assistant'`
      if (!answer) throw notFound("answer of PAM's")
      return await tx`
        insert into pam.message_feedback (message_id, rating, routing_correct, comment)
        values (${id}, ${input.rating}, ${input.routing_correct ?? null}, ${input.comment ?? ''})
        on conflict (message_id) do update
          set rating = excluded.rating, routing_correct = excluded.routing_correct, comment = excluded.comment
        returning message_id, rating::int as rating, routing_correct, comment`
    })
    return c.json({ feedback: row } as never, 200)
  })

  app.openapi(insights, async (c) => {
    const { months } = c.req.valid('query')
    return c.json(await insightsFor(c, opts.now(), months) as never, 200)
  })

  app.openapi(stats, async (c) => {
    const intents = await c.var.postgres.queryRaw(
      `select m.metadata ->> 'intent' as intent, count(*)::int as messages, count(f.rating)::int as rated,
              round(avg(f.rating), 2)::float8 as average_rating,
              round(avg(case when f.routing_correct then 1.0 when f.routing_correct = false then 0.0 end), 3)::float8
                as routing_accuracy
       from pam.messages m left join pam.message_feedback f on f.message_id = m.id
       where m.user_id = (select auth.uid()) and m.role = 'assistant' and m.metadata ? 'intent'
       group by 1 order by 2 desc, 1`,
    )
    return c.json({ intents } as never, 200)
  })

  registerResource(app, {
    one: 'conversation',
    many: 'conversations',
    noun: 'conversation',
    path: '/conversations',
    table: 'pam.conversations',
    alias: 'cv',
    tags,
    schema: Conversation,
    select: `cv.id, cv.title, cv.status, ${isoSql('cv.created_at')} as created_at, ${isoSql('cv.updated_at')} as updated_at`,
    order: newestFirst('cv'),
    listSummary: 'Your conversations with PAM, newest first',
    afterWrite: (c, id) => forgetHistory(c, id).then(() => {}),
    filters: {
      fields: { status: z.enum(['active', 'archived']).optional() },
      where: (f, p) => (f.status ? [`cv.status = ${p(f.status)}`] : []),
    },
    patch: {
      schema: patchOf({
        title: singleLineText({ min: 0, max: 200 }).openapi({ example: 'Red Centre plans' }),
        status: z.enum(['active', 'archived']),
      }).openapi('ConversationPatch', { example: { title: 'Red Centre plans' } }),
      columns: { title: 'text', status: 'text' },
      summary: 'Rename or archive a conversation',
    },
  })

  registerResource(app, {
    one: 'memory',
    many: 'memories',
    noun: 'memory',
    path: '/memories',
    table: 'pam.memories',
    alias: 'm',
    tags,
    schema: Memory,
    select: MEMORY_SELECT,
    order: newestFirst('m'),
    listSummary: 'What PAM remembers about you, newest first (tell PAM "remember …" or "forget …")',
    without: ['patch'],
  })

  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createChatApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
