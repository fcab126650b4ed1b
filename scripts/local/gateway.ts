// The local API gateway, shaped like Supabase's: /functions/v1/<name>/… goes to
// the function (which reads it as /<name>/…, as on the Edge Runtime),
// /auth/v1/… to the auth service, /storage/v1/… to the Storage stand-in. It
// also serves the merged OpenAPI document of all functions and an interactive
// API reference. A gateway in a function worker (function-worker.ts) serves the
// functions and passes everything else to the main thread's (`elsewhere`).
import type { Handler } from './functions.ts'
import { serveApiReference } from './api-reference.ts'

export interface GatewayOptions {
  functions: Map<string, Handler>
  auth?: Handler
  publicUrl: string
  /** The local QStash stand-in, served under /qstash (its paths start at /v2). */
  qstash?: (req: Request, path: string) => Promise<Response>
  /** The local Storage stand-in, served under /storage/v1 (storage.ts). */
  storage?: (req: Request, path: string) => Promise<Response>
  /** Serves every request that is not for a function (a function worker's way to the main thread). */
  elsewhere?: Handler
  /** The mail catcher's page and JSON API, served under /mail. */
  mail?: (req: Request, path: string) => Response
}

/** The secret header on requests a function worker passes to the main thread, and the client's address. */
const INTERNAL_SECRET = 'x-pam-internal'
const INTERNAL_CLIENT = 'x-pam-client-address'

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    // An id like every function's answer (a path such as /notifications/%2e%2e/read lands here).
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'x-request-id': crypto.randomUUID() },
  })

const notFound = (message: string) => json({ error: { code: 'not_found', message } }, 404)

export function createGateway(opts: GatewayOptions): (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> {
  const specUrl = `${opts.publicUrl}/functions/v1/openapi.json`
  return async (req, info) => {
    const path = pathOf(req.url)
    if (opts.elsewhere && !(path.startsWith('/functions/v1/') && path !== '/functions/v1/openapi.json')) {
      return await opts.elsewhere(req, info)
    }
    if (opts.auth && (path === '/auth/v1' || path.startsWith('/auth/v1/'))) {
      return await opts.auth(withClientAddress(new Request(req), info))
    }
    if (opts.qstash && path.startsWith('/qstash/')) return await opts.qstash(req, path.slice('/qstash'.length))
    if (opts.storage && path.startsWith('/storage/v1/')) return await opts.storage(req, path.slice('/storage/v1'.length))
    if (opts.mail && (path === '/mail' || path.startsWith('/mail/'))) return opts.mail(req, path)
    if (path === '/functions/v1/openapi.json') return json(await mergedOpenApi(opts))
    const reference = serveApiReference(path, specUrl)
    if (reference) return reference
    const m = path.match(/^\/functions\/v1\/([^/]+)(\/.*)?$/)
    if (m) {
      const fn = opts.functions.get(m[1])
      if (!fn) return notFound(`no function named ${m[1]}`)
      // Handed over as is: a copy of the request costs more than the whole
      // function (its abort signal is chained to this one's). The function
      // ignores the /functions/v1 prefix, and takes the client's address from
      // `info` when no edge header names it. Only a client claiming an address
      // of its own pays for the copy that overwrites it, as the platform's edge would.
      const claims = req.headers.has('cf-connecting-ip') || req.headers.has('x-forwarded-for')
      return await fn(claims ? withClientAddress(new Request(req), info) : req, info)
    }
    if (path === '/' || path === '') {
      return json({
        name: 'PAM local stack',
        functions: [...opts.functions.keys()].map((n) => `${opts.publicUrl}/functions/v1/${n}`),
        auth: `${opts.publicUrl}/auth/v1`,
        ...(opts.storage ? { storage: `${opts.publicUrl}/storage/v1` } : {}),
        openapi: `${opts.publicUrl}/functions/v1/openapi.json`,
        docs: `${opts.publicUrl}/functions/v1/docs`,
        ...(opts.mail ? { mail: `${opts.publicUrl}/mail` } : {}),
      })
    }
    return notFound(`no route for ${path}`)
  }
}

/** A function worker's `elsewhere`: the request, passed to the main thread's internal
 * listener with the client's address (which that listener alone trusts, given the secret). */
export function forwardTo(mainUrl: string, secret: string): Handler {
  return async (req, info) => {
    const url = new URL(req.url)
    const headers = new Headers(req.headers)
    headers.set(INTERNAL_SECRET, secret)
    headers.set(INTERNAL_CLIENT, (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? 'unknown')
    try {
      return await fetch(`${mainUrl}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: 'manual',
        signal: req.signal,
      })
    } catch (err) {
      if (req.signal.aborted) throw err
      return json({ error: { code: 'bad_gateway', message: 'the local stack\'s main thread did not answer' } }, 502)
    }
  }
}

/** The main thread's internal listener for what function workers pass on: the gateway, with
 * the client's address the worker saw. Anything without the secret is refused. */
export function internalEntrance(gateway: Handler, secret: string): Handler {
  return (req) => {
    if (req.headers.get(INTERNAL_SECRET) !== secret) return json({ error: { code: 'forbidden', message: 'internal' } }, 403)
    const address = req.headers.get(INTERNAL_CLIENT) ?? 'unknown'
    const passed = new Request(req) // a served request's headers cannot be changed
    passed.headers.delete(INTERNAL_SECRET)
    passed.headers.delete(INTERNAL_CLIENT)
    const info = { remoteAddr: { transport: 'tcp', hostname: address, port: 0 } } as Deno.ServeHandlerInfo
    return gateway(passed, info)
  }
}

/** The path of an absolute URL, still percent-encoded as URL.pathname is, without parsing
 * the rest of it (this runs for every request). */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0) return '/'
  const end = url.slice(start).search(/[?#]/)
  return end < 0 ? url.slice(start) : url.slice(start, start + end)
}

/** Like the platform's edge (Cloudflare in front of hosted Supabase): the
 * client's address in `cf-connecting-ip` and `x-forwarded-for`, overwriting
 * whatever the client claims. */
function withClientAddress(req: Request, info?: Deno.ServeHandlerInfo): Request {
  const addr = (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? 'unknown'
  req.headers.set('cf-connecting-ip', addr)
  req.headers.set('x-forwarded-for', addr)
  return req
}

interface OpenApiDoc {
  paths?: Record<string, unknown>
  components?: Record<string, Record<string, unknown>>
  info?: { version?: string }
}

/** One OpenAPI document for every function, built from each function's own. */
export async function mergedOpenApi(opts: GatewayOptions) {
  const merged = {
    openapi: '3.0.3',
    info: { title: 'PAM API', version: '', description: 'Every PAM edge function, under /functions/v1.' },
    servers: [{ url: `${opts.publicUrl}/functions/v1` }],
    paths: {} as Record<string, unknown>,
    components: {} as Record<string, Record<string, unknown>>,
  }
  for (const [name, fn] of opts.functions) {
    const res = await fn(new Request(`http://local/${name}/openapi.json`))
    if (!res.ok) continue
    const doc = await res.json() as OpenApiDoc
    merged.info.version ||= doc.info?.version ?? ''
    Object.assign(merged.paths, doc.paths)
    for (const [kind, entries] of Object.entries(doc.components ?? {})) {
      merged.components[kind] = { ...merged.components[kind], ...entries }
    }
  }
  return merged
}
