// The local API reference page at /functions/v1/docs, rendering the merged
// OpenAPI document of every function with Scalar's standalone viewer. The
// viewer comes from the pinned npm package (tools/api-reference, see
// viewer.ts) and the gateway serves it itself, so the page works offline and
// loads nothing from any other origin.
import { VIEWER_DIR } from './viewer.ts'

const PAGE = '/functions/v1/docs'
const UNDER_PAGE = `${PAGE}/`
const viewerPackage = new URL('node_modules/@scalar/api-reference/', VIEWER_DIR)
const viewerFile = new URL('dist/browser/standalone.js', viewerPackage) // the single-file browser bundle

interface Viewer {
  /** Where the page loads it from: the version is in the name, so it can be cached for good. */
  path: string
  bundle: Uint8Array<ArrayBuffer>
}
let viewer: Viewer | undefined

/** The viewer, read once it is installed (npm start installs it in the background). */
function loadViewer(): Viewer | undefined {
  if (viewer) return viewer
  try {
    // npm writes this last: before it, a file may still be half written.
    Deno.statSync(new URL('node_modules/.package-lock.json', VIEWER_DIR))
    const { version } = JSON.parse(Deno.readTextFileSync(new URL('package.json', viewerPackage)))
    const code = Deno.readTextFileSync(viewerFile)
    viewer = {
      path: `${PAGE}/assets/scalar-api-reference-${version}.js`,
      // zod inside the bundle probes for eval with `new Function('')` (it catches the
      // refusal and falls back to its interpreter); saying jitless up front skips
      // the probe, so the CSP never reports a violation.
      bundle: new TextEncoder().encode(`globalThis.__zod_globalConfig = { jitless: true };\n${code}`),
    }
    return viewer
  } catch {
    return undefined
  }
}

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
  if (path !== PAGE && !path.startsWith(UNDER_PAGE)) return null
  const v = loadViewer()
  if (!v) {
    const message = `the API reference viewer is not installed yet (${viewerFile.pathname}): \`npm start\` installs it ` +
      'in the background, so reload in a minute, or run `npm run docs:install`'
    return Response.json({ error: { code: 'viewer_not_installed', message } }, {
      status: 503,
      headers: { 'retry-after': '30', ...securityHeaders },
    })
  }
  if (path === PAGE) return page(specUrl, v.path)
  if (path === v.path) {
    return new Response(v.bundle, {
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=31536000, immutable',
        ...securityHeaders,
      },
    })
  }
  const error = { code: 'not_found', message: `no API reference file at ${path}` }
  return Response.json({ error }, { status: 404, headers: securityHeaders })
}

function page(specUrl: string, bundlePath: string): Response {
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
