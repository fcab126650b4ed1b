// The one error type of the API. Thrown anywhere, rendered by the app's error
// handler as {"error":{"code","message","details"?}}.
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new ApiError(400, 'bad_request', message, details)
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`)
export const conflict = (code: string, message: string) => new ApiError(409, code, message)
export const unavailable = (what: string) =>
  new ApiError(503, `${what}_unavailable`, `the ${what} is unavailable, try again shortly`, undefined, {
    'Retry-After': '5',
  })

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } }
}
