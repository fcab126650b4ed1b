// A local stand-in for an OpenAI-compatible chat completions API
// (POST /chat/completions), answering JSON or, for `stream: true`, server-sent
// chat.completion.chunk events with usage at the end. Each test queues the
// answers it needs (tool calls, text, an error status, a hang); with the
// queue empty it answers "All done.". Every request body is recorded.
import './shared-resources.ts'
import { shutdownSoon } from './servers.ts'

export type StubAnswer =
  | { text: string }
  | { tools: { name: string; arguments: string; id?: string }[]; text?: string }
  | { status: number }
  | { hang: true }

export interface ChatRequest {
  model: string
  stream?: boolean
  max_tokens?: number
  tool_choice?: string
  tools?: { type: string; function: { name: string; description: string; parameters: Record<string, unknown> } }[]
  messages: { role: string; content: string | null; tool_call_id?: string; tool_calls?: unknown[] }[]
}

export interface OpenAIStub {
  readonly url: string
  readonly apiKey: string
  readonly requests: ChatRequest[]
  /** Usage reported per answer. */
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
  queue(...answers: StubAnswer[]): void
  close(): Promise<void>
}

export function startOpenAIStub(): OpenAIStub {
  const closing = new AbortController()
  const queued: StubAnswer[] = []
  const requests: ChatRequest[] = []
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url)
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      return Response.json({ error: { message: 'not found' } }, { status: 404 })
    }
    if (req.headers.get('authorization') !== `Bearer ${stub.apiKey}`) {
      return Response.json({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }, { status: 401 })
    }
    const body = await req.json() as ChatRequest
    requests.push(body)
    const answer = queued.shift() ?? { text: 'All done.' }
    if ('hang' in answer) {
      await new Promise((resolve) => closing.signal.addEventListener('abort', resolve))
      return new Response(null, { status: 503 })
    }
    if ('status' in answer) {
      return Response.json({ error: { message: `stub error ${answer.status}`, type: 'server_error' } }, {
        status: answer.status,
        headers: answer.status === 429 ? { 'retry-after': '20' } : {},
      })
    }
    const toolCalls = 'tools' in answer
      ? answer.tools.map((t, i) => ({ id: t.id ?? `call_${crypto.randomUUID().slice(0, 8)}_${i}`, type: 'function', function: { name: t.name, arguments: t.arguments } }))
      : []
    const text = answer.text ?? ''
    const finish = toolCalls.length ? 'tool_calls' : 'stop'
    const base = { id: `chatcmpl-${crypto.randomUUID()}`, created: Math.floor(Date.now() / 1000), model: body.model }
    if (!body.stream) {
      return Response.json({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) }, finish_reason: finish }],
        usage: stub.usage,
      })
    }
    const chunk = (delta: unknown, finish_reason: string | null = null) =>
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason }] })}\n\n`
    const events: string[] = [chunk({ role: 'assistant', content: '' })]
    // Text in a few pieces; each tool call as its name, then its arguments in two halves.
    for (const piece of text.match(/\S+\s*/g) ?? []) events.push(chunk({ content: piece }))
    toolCalls.forEach((c, index) => {
      const half = Math.ceil(c.function.arguments.length / 2)
      events.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] }))
      events.push(chunk({ tool_calls: [{ index, function: { arguments: c.function.arguments.slice(0, half) } }] }))
      events.push(chunk({ tool_calls: [{ index, function: { arguments: c.function.arguments.slice(half) } }] }))
    })
    events.push(chunk({}, finish))
    events.push(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: stub.usage })}\n\n`)
    events.push('data: [DONE]\n\n')
    const encoder = new TextEncoder()
    return new Response(
      new ReadableStream({
        async start(controller) {
          for (const e of events) {
            controller.enqueue(encoder.encode(e))
            await new Promise((r) => setTimeout(r, 2))
          }
          controller.close()
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    )
  })
  const stub: OpenAIStub = {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    apiKey: `sk-test-${crypto.randomUUID()}`,
    requests,
    usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
    queue: (...answers) => void queued.push(...answers),
    close: async () => {
      closing.abort()
      await shutdownSoon(server)
    },
  }
  return stub
}
