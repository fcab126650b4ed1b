// The API reference at /functions/v1/docs: its headers and its viewer over
// plain HTTP, and the page itself rendered in headless Chromium (Debian's
// `chromium`) with no way off this machine. Without chromium the browser test
// is skipped locally and fails in CI.
import { chromium } from 'playwright-core'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import type { Json } from './_support/assert.ts'
import { stack } from './_support/stack.ts'

const docsUrl = `${stack.url}/functions/v1/docs`
const specUrl = `${stack.url}/functions/v1/openapi.json`
const viewerDir = new URL('../tools/api-reference/node_modules/@scalar/api-reference/', import.meta.url)
const CHROMIUM = '/usr/bin/chromium'
const chromiumInstalled = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false)

/** The page's Content-Security-Policy as directive → sources. */
function policyOf(res: Response): Map<string, string[]> {
  const header = res.headers.get('content-security-policy')
  assert(header, 'the page has no Content-Security-Policy')
  const directives = header.split(';').map((d) => d.trim().split(/\s+/))
  return new Map(directives.map(([name, ...sources]) => [name, sources]))
}

const decodeAttribute = (s: string) =>
  s.replace(/&(quot|lt|gt|amp);/g, (_, name: string) => ({ quot: '"', lt: '<', gt: '>', amp: '&' })[name]!)

/** Every operation of an OpenAPI document. */
function operationsOf(doc: Json): { method: string; path: string; summary: string }[] {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    methods.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, summary: item[m].summary ?? path }))
  )
}

async function pageAndViewer() {
  const res = await fetch(docsUrl)
  const html = await res.text()
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  const src = scripts.map(([, attrs]) => attrs.match(/\bsrc="([^"]*)"/)?.[1]).filter((s) => s !== undefined)
  assertEquals(src.length, 1, 'the page loads exactly one script')
  return { res, html, scripts, bundlePath: src[0] }
}

Deno.test('api reference: the page has a strict CSP, no inline script, and the spec from its own origin', async () => {
  const { res, html, scripts, bundlePath } = await pageAndViewer()
  assertEquals(res.status, 200)
  assertEquals(res.headers.get('content-type'), 'text/html; charset=utf-8')
  assertEquals(res.headers.get('x-content-type-options'), 'nosniff')
  assertEquals(res.headers.get('referrer-policy'), 'no-referrer')

  const policy = policyOf(res)
  assertEquals(policy.get('default-src'), [`'none'`])
  assertEquals(policy.get('script-src'), [`'self'`])
  assertEquals(policy.get('connect-src'), [`'self'`])
  assertEquals(policy.get('style-src'), [`'unsafe-inline'`])
  assertEquals(policy.get('base-uri'), [`'none'`])
  assertEquals(policy.get('frame-ancestors'), [`'none'`])
  for (const [name, sources] of policy) {
    for (const source of sources) {
      assert(!/^(https?:|\*|'unsafe-eval'|data:|blob:)/.test(source), `${name} allows ${source}`)
    }
  }

  // Only the gateway's own script; the configuration rides on an empty element.
  assertMatch(bundlePath, /^\/functions\/v1\/docs\/assets\/[\w.-]+\.js$/)
  for (const [, attrs, body] of scripts) assertEquals(body.trim(), '', `inline script in <script${attrs}>`)
  const configuration = html.match(/<script id="api-reference" data-configuration="([^"]*)"/)
  assert(configuration, 'no #api-reference configuration on the page')
  const config = JSON.parse(decodeAttribute(configuration[1]))
  assertEquals(config.url, '/functions/v1/openapi.json')
  assertEquals(config.withDefaultFonts, false)
  const spec = await fetch(new URL(config.url, docsUrl))
  assertEquals(spec.status, 200)
  assert(Object.keys((await spec.json()).paths).length > 0)
})

Deno.test('api reference: the viewer is the pinned package, served under a versioned name and cached for good', async () => {
  const { bundlePath } = await pageAndViewer()
  const installed = JSON.parse(await Deno.readTextFile(new URL('package.json', viewerDir))).version
  const pinned = JSON.parse(await Deno.readTextFile(new URL('../tools/api-reference/package.json', import.meta.url)))
    .dependencies['@scalar/api-reference']
  assertEquals(installed, pinned, 'tools/api-reference does not hold the pinned version: run npm run docs:install')
  assert(bundlePath.includes(installed), `${bundlePath} does not name version ${installed}`)

  const res = await fetch(`${stack.url}${bundlePath}`)
  assertEquals(res.status, 200)
  assertEquals(res.headers.get('content-type'), 'text/javascript; charset=utf-8')
  assertEquals(res.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  assertEquals(res.headers.get('x-content-type-options'), 'nosniff')
  const served = new Uint8Array(await res.arrayBuffer())
  const file = await Deno.readFile(new URL('dist/browser/standalone.js', viewerDir))
  // The package's file, after one line that turns zod's eval probe off.
  const preamble = new TextDecoder().decode(served.subarray(0, served.length - file.length))
  assertEquals(preamble, 'globalThis.__zod_globalConfig = { jitless: true };\n')
  assert(served.subarray(preamble.length).every((b, i) => b === file[i]), 'the served bundle differs from the package file')
})

Deno.test('api reference: other files under /docs are 404 with the error envelope; functions are untouched', async () => {
  for (const path of ['/functions/v1/docs/assets/scalar-api-reference-0.0.0.js', '/functions/v1/docs/x']) {
    const res = await fetch(`${stack.url}${path}`)
    assertEquals(res.status, 404, path)
    assertEquals((await res.json()).error.code, 'not_found')
  }
  const health = await fetch(`${stack.url}/functions/v1/health`)
  assertEquals(health.status, 200)
  assertEquals((await health.json()).status, 'ok')
})

Deno.test('api reference: without the viewer installed the page is a 503 saying how to get it; the API is not affected', async () => {
  // The modules on their own in a folder with no viewer installed next to them.
  const dir = await Deno.makeTempDir({ prefix: 'pam-docs-' })
  try {
    await Deno.mkdir(`${dir}/scripts/local`, { recursive: true })
    for (const f of ['api-reference.ts', 'viewer.ts']) {
      await Deno.copyFile(new URL(`../scripts/local/${f}`, import.meta.url), `${dir}/scripts/local/${f}`)
    }
    const { serveApiReference } = await import(`file://${dir}/scripts/local/api-reference.ts`)
    const res: Response = serveApiReference('/functions/v1/docs', `${stack.url}/functions/v1/openapi.json`)
    assertEquals(res.status, 503)
    assertEquals(res.headers.get('retry-after'), '30')
    const { error } = await res.json()
    assertEquals(error.code, 'viewer_not_installed')
    assertMatch(error.message, /not installed yet .*tools\/api-reference\/node_modules\/@scalar\/api-reference.*npm run docs:install/)
    assertEquals(serveApiReference('/functions/v1/health', ''), null, 'other paths are not the page\'s')
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test({
  name: 'api reference: Chromium renders every operation offline, with no other origin and no CSP violation',
  ignore: !chromiumInstalled && !Deno.env.get('CI'),
  // The stack stays up for the other tests.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!chromiumInstalled) throw new Error(`no ${CHROMIUM}: CI must install chromium (apt-get install chromium)`)
    const operations = operationsOf(await (await fetch(specUrl)).json())
    for (const name of stack.functions) {
      assert(operations.some((op) => op.path.split('/')[1] === name), `the merged document has nothing of ${name}`)
    }
    const expected = operations.map((op) => `${op.method} ${op.path}: ${op.summary}`).sort()

    const origin = new URL(stack.url).origin
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Playwright adds --headless, --no-sandbox (chromiumSandbox is off), --no-first-run,
      // --disable-background-networking, --disable-sync and a fresh profile of its own.
      args: [
        '--disable-gpu',
        '--disable-quic',
        '--disable-component-update',
        // No name resolves but the stack's address: nothing can leave the machine.
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      ],
    })
    try {
      const page = await browser.newPage()
      const requested: string[] = []
      const offOrigin: string[] = []
      const errors: string[] = []
      page.on('request', (r) => requested.push(r.url()))
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
      page.on('pageerror', (e) => errors.push(e.message))
      await page.route('**/*', (route) => {
        const url = route.request().url()
        if (new URL(url).origin === origin) return route.continue()
        offOrigin.push(url)
        return route.abort('blockedbyclient')
      })
      await page.addInitScript(() => {
        // Runs in the page, before its scripts; the event bubbles up to the window.
        type Violation = Event & { effectiveDirective: string; blockedURI: string; sourceFile: string }
        const seen: string[] = []
        Object.assign(globalThis, { cspViolations: seen })
        addEventListener('securitypolicyviolation', (e) => {
          const v = e as Violation
          seen.push(`${v.effectiveDirective} refused ${v.blockedURI} (${v.sourceFile})`)
        })
      })

      const res = await page.goto(docsUrl)
      assertEquals(res?.status(), 200)
      // The sidebar lists every operation under its tag: open each group, as a reader would.
      await page.locator('a[href^="#tag/"]').first().waitFor({ timeout: 30_000 })
      const closedGroup = page.getByRole('button', { name: /^Open Group - / })
      for (let n = await closedGroup.count(); n > 0; n--) await closedGroup.first().click()
      // Each entry links to #tag/<tag>/<METHOD><path> and is labelled with the summary.
      const rendered = await page.$$eval('li[data-sidebar-id] > a[href^="#tag/"]', (links) =>
        links.map((a) => {
          const [, method, path] = a.getAttribute('href')!.match(/^#tag\/[^/]+\/([A-Z]+)(\/.*)$/) ?? []
          const summary = a.querySelector('[class~="group/button-label"]')?.textContent?.trim()
          return `${method} ${path}: ${summary}`
        }))
      assertEquals([...new Set(rendered)].sort(), expected, "the sidebar does not list the document's operations")
      await page.waitForLoadState('networkidle')

      assertEquals(offOrigin, [], 'the page reached for another origin')
      assertEquals(requested.filter((u) => new URL(u).origin !== origin), [])
      assert(requested.includes(specUrl), 'the viewer never fetched the OpenAPI document')
      const violations = await page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations)
      assertEquals(violations, [], 'the CSP refused something')
      assertEquals(errors, [], 'the page logged errors')
    } finally {
      await browser.close()
    }
  },
})
