// PAM's model: one call to an OpenAI-compatible chat completions API
// (`${baseUrl}/chat/completions`) with plain fetch, answered as JSON or, when
// the caller wants the words as they come, as server-sent events. Whatever
// goes wrong — no answer in time, a 429 or 5xx, a refusal, an answer that is
// not understood — is a ModelError: the pipeline then answers offline.
import { z } from '../http.ts'
import { TOOLS } from './tools.ts'

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string }

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

export interface Completion {
  content: string
  toolCalls: ToolCall[]
  usage: Usage | null
  finishReason: string | null
}

export interface CompleteOptions {
  apiKey: string
  baseUrl: string
  model: string
  messages: ChatMessage[]
  /** The tools offered; 'none' keeps them described but asks for words. */
  tools?: unknown[]
  toolChoice?: 'auto' | 'none'
  maxTokens: number
  timeoutMs: number
  signal?: AbortSignal
  /** Given: the answer is streamed, and each piece of text is passed on as it arrives. */
  onDelta?: (text: string) => void
}

/** Why the model could not be used: 'timeout', 'rate_limited', 'http_<status>', 'network', 'bad_answer', 'aborted'. */
export class ModelError extends Error {
  override name = 'ModelError'
  constructor(readonly reason: string, message: string) {
    super(message)
  }
}

let toolSpecs: { all: unknown[]; reads: unknown[] } | undefined

/** The tools in OpenAI's function-calling shape, their parameters from the zod schemas (as input);
 * `readsOnly`: those that change nothing. */
export function toolDefinitions(readsOnly = false): unknown[] {
  toolSpecs ??= (() => {
    const spec = (t: typeof TOOLS[number]) => {
      const { $schema: _, ...parameters } = z.toJSONSchema(t.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
      return { type: 'function', function: { name: t.name, description: t.description, parameters } }
    }
    return { all: TOOLS.map(spec), reads: TOOLS.filter((t) => !t.writes).map(spec) }
  })()
  return readsOnly ? toolSpecs.reads : toolSpecs.all
}

const UsageSchema = z.object({
  prompt_tokens: z.number().int().min(0).default(0),
  completion_tokens: z.number().int().min(0).default(0),
  total_tokens: z.number().int().min(0).default(0),
}).loose()

const ToolCallSchema = z.object({
  id: z.string().default(''),
  type: z.string().optional(),
  function: z.object({ name: z.string().default(''), arguments: z.string().nullish() }),
}).loose()

const AnswerSchema = z.object({
  choices: z.array(z.object({
    message: z.object({ content: z.string().nullish(), tool_calls: z.array(ToolCallSchema).nullish() }).loose(),
    finish_reason: z.string().nullish(),
  }).loose()).min(1),
  usage: UsageSchema.nullish(),
}).loose()

const ChunkSchema = z.object({
  choices: z.array(z.object({
    delta: z.object({
      content: z.string().nullish(),
      tool_calls: z.array(z.object({
        index: z.number().int().min(0).max(63),
        id: z.string().nullish(),
        function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).loose().nullish(),
      }).loose()).nullish(),
    }).loose().nullish(),
    finish_reason: z.string().nullish(),
  }).loose()).default([]),
  usage: UsageSchema.nullish(),
}).loose()

/** One model call, within `timeoutMs` (reading the whole answer included). */
export async function complete(o: CompleteOptions): Promise<Completion> {
  const timeout = AbortSignal.timeout(Math.max(1, o.timeoutMs))
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout
  const stream = Boolean(o.onDelta)
  const body: Record<string, unknown> = {
    model: o.model,
    messages: o.messages,
    max_tokens: o.maxTokens,
    temperature: 0.3,
    ...(o.tools?.length ? { tools: o.tools, tool_choice: o.toolChoice ?? 'auto' } : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  }
  try {
    const res = await fetch(`${o.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${o.apiKey}`,
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
      signal,
    })
    if (!res.ok) {
      await res.body?.cancel().catch(() => {})
      throw new ModelError(res.status === 429 ? 'rate_limited' : `http_${res.status}`, `the model answered ${res.status}`)
    }
    const type = res.headers.get('content-type') ?? ''
    if (stream && type.includes('text/event-stream')) return await readStream(res, o.onDelta!)
    const answer = await res.text()
    const completion = parseAnswer(answer)
    if (stream && completion.content) o.onDelta!(completion.content)
    return completion
  } catch (err) {
    if (err instanceof ModelError) throw err
    if (timeout.aborted) throw new ModelError('timeout', `no answer from the model within ${o.timeoutMs} ms`)
    if (o.signal?.aborted) throw new ModelError('aborted', 'the request was abandoned')
    throw new ModelError('network', `the model could not be reached: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function parseAnswer(text: string): Completion {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ModelError('bad_answer', 'the model answered something other than JSON')
  }
  const parsed = AnswerSchema.safeParse(json)
  if (!parsed.success) throw new ModelError('bad_answer', 'the model answer was not understood')
  const choice = parsed.data.choices[0]
  return {
    content: choice.message.content ?? '',
    toolCalls: (choice.message.tool_calls ?? []).map((c, i) => ({
      id: c.id || `call_${i}`,
      type: 'function' as const,
      function: { name: c.function.name, arguments: c.function.arguments ?? '' },
    })),
    usage: parsed.data.usage ? usageOf(parsed.data.usage) : null,
    finishReason: choice.finish_reason ?? null,
  }
}

const usageOf = (u: z.infer<typeof UsageSchema>): Usage => ({
  prompt_tokens: u.prompt_tokens,
  completion_tokens: u.completion_tokens,
  total_tokens: u.total_tokens || u.prompt_tokens + u.completion_tokens,
})

/** Server-sent events of chat.completion.chunk objects, up to `data: [DONE]` (or the end). */
async function readStream(res: Response, onDelta: (text: string) => void): Promise<Completion> {
  let content = ''
  let usage: Usage | null = null
  let finishReason: string | null = null
  const calls: { id: string; name: string; arguments: string }[] = []
  let buffer = ''
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const handle = (line: string): boolean => {
    if (!line.startsWith('data:')) return false
    const data = line.slice(5).trim()
    if (data === '[DONE]') return true
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      throw new ModelError('bad_answer', 'the model streamed something other than JSON')
    }
    const chunk = ChunkSchema.safeParse(json)
    if (!chunk.success) throw new ModelError('bad_answer', 'the model stream was not understood')
    if (chunk.data.usage) usage = usageOf(chunk.data.usage)
    for (const choice of chunk.data.choices) {
      if (choice.finish_reason) finishReason = choice.finish_reason
      const text = choice.delta?.content
      if (text) {
        content += text
        onDelta(text)
      }
      for (const d of choice.delta?.tool_calls ?? []) {
        const call = calls[d.index] ??= { id: '', name: '', arguments: '' }
        if (d.id) call.id = d.id
        if (d.function?.name) call.name += d.function.name
        if (d.function?.arguments) call.arguments += d.function.arguments
      }
    }
    return false
  }
  try {
    outer: for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '')
        buffer = buffer.slice(nl + 1)
        if (handle(line)) break outer
      }
      if (buffer.length > 1_000_000) throw new ModelError('bad_answer', 'the model stream has an overlong line')
    }
    if (buffer.trim()) handle(buffer.trim())
  } finally {
    await reader.cancel().catch(() => {})
  }
  return {
    content,
    toolCalls: calls.filter(Boolean).map((c, i) => ({
      id: c.id || `call_${i}`,
      type: 'function' as const,
      function: { name: c.name, arguments: c.arguments },
    })),
    usage,
    finishReason,
  }
}
