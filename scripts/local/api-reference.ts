// The local API reference page at /functions/v1/docs, rendering the merged
// OpenAPI document of every function.

/** Answers the API reference's own paths (the page and its assets); null for any other path. */
export function serveApiReference(path: string, specUrl: string): Response | null {
  if (path !== '/functions/v1/docs') return null
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>PAM API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-url="${specUrl}"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script></body></html>`
  return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
}
