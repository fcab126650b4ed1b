// The local API reference page at /functions/v1/docs, rendering the merged
// OpenAPI document of every function with Scalar's standalone viewer. The
// viewer comes from the pinned npm package and the gateway serves it itself,
// so the page works offline and loads nothing from any other origin.

const PAGE = '/functions/v1/docs'
const viewerPackage = new URL('../../node_modules/@scalar/api-reference/', import.meta.url)
const viewerFile = new URL('dist/browser/standalone.js', viewerPackage) // the single-file browser bundle

/** The viewer's version and code, read once at startup. */
function readViewer(): { version: string; code: string } {
  try {
    const { version } = JSON.parse(Deno.readTextFileSync(new URL('package.json', viewerPackage)))
    return { version, code: Deno.readTextFileSync(viewerFile) }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e)
    throw new Error(
      `the API reference viewer is missing (${viewerFile.pathname}): run \`npm ci\` to install @scalar/api-reference (${why})`,
    )
  }
}

const viewer = readViewer()
// zod inside the bundle probes for eval with `new Function('')` (it catches the
// refusal and falls back to its interpreter); saying jitless up front skips
// the probe, so the CSP never reports a violation.
const bundle = new TextEncoder().encode(`globalThis.__zod_globalConfig = { jitless: true };\n${viewer.code}`)
// The version is in the name, so the file can be cached for good.
const bundlePath = `${PAGE}/assets/scalar-api-reference-${viewer.version}.js`

/** Applies to the page, and so to everything the viewer does in it. */
const CSP = [
  `default-src 'none'`,
  `script-src 'self'`,
  `connect-src 'self'`,
  // The viewer injects its stylesheets as <style> elements and sets style attributes.
  `style-src 'unsafe-inline'`,
  `base-uri 'none'`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
].join('; ')

const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/** Answers the API reference's own paths (the page and its assets); null for any other path. */
export function serveApiReference(path: string, specUrl: string): Response | null {
  if (path === PAGE) return page(specUrl)
  if (path === bundlePath) {
    return new Response(bundle, {
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=31536000, immutable',
        ...securityHeaders,
      },
    })
  }
  if (path.startsWith(`${PAGE}/`)) {
    const error = { code: 'not_found', message: `no API reference file at ${path}` }
    return Response.json({ error }, { status: 404, headers: securityHeaders })
  }
  return null
}

function page(specUrl: string): Response {
  // The spec is fetched from the page's own origin (the only one the CSP
  // allows), whatever host name the page was opened with.
  const spec = new URL(specUrl)
  const configuration = {
    url: spec.pathname + spec.search,
    // Scalar's web fonts come from its own servers; the system fonts do.
    withDefaultFonts: false,
    // Features that call Scalar's services (the AI agent on local hosts; the
    // developer toolbar's share, deploy and SDK buttons).
    agent: { disabled: true },
    showDeveloperTools: 'never',
  }
  // The viewer reads its configuration from this element; the only script is the bundle.
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PAM API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-configuration="${escapeAttribute(JSON.stringify(configuration))}"></script>
<script src="${bundlePath}"></script></body></html>`
  return new Response(html, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CSP,
      'cache-control': 'no-cache',
      ...securityHeaders,
    },
  })
}

const escapeAttribute = (s: string) =>
  s.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]!)
