// `npm run bench:social`: the feed, through the local gateway (JWT, rate
// limits, RLS), one request at a time, for a traveller in 20 groups (10 of
// them private) with 30 friends, over BENCH_POSTS posts (100,000) by
// BENCH_AUTHORS other travellers (500) in BENCH_GROUPS groups (200): public
// posts, friends-only posts and group posts, spread over a year, some with a
// place, a few hidden by moderators.
//
// Prints p50/p99 of the first page, of pages reached by cursor, of the
// groups and friends filters and of the nearby feed; then EXPLAIN (ANALYZE,
// BUFFERS) of the feed queries as the user under RLS. The feed must be one
// statement walking posts_feed_idx (no per-group queries, no sort of every
// visible post), and the nearby feed must start from posts_location_idx: the
// run exits 1 when a plan does not use its index.
import postgres from 'postgres'
import { createClient } from '@supabase/supabase-js'
import { database, type PostgresApi, postgresClient } from '../../supabase/functions/_shared/db.ts'
import { params } from '../../supabase/functions/_shared/resource.ts'
import { type FeedFilters, feedWhere, postPage } from '../../supabase/functions/social/posts.ts'
import { explainAsUser, measure, percentile, printTable, startBenchStack } from './_stack.ts'

const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 300)
const POSTS = Number(Deno.env.get('BENCH_POSTS') ?? 100_000)
const AUTHORS = Number(Deno.env.get('BENCH_AUTHORS') ?? 500)
const GROUPS = Number(Deno.env.get('BENCH_GROUPS') ?? 200)
const MY_GROUPS = 20
const FRIENDS = 30
const WARM_UP = 20

type Page = { posts: unknown[]; next_cursor: string | null }

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
let failed = false

try {
  const client = createClient(stack.url, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } })
  const { data, error } = await client.auth.signUp({
    email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
    password: 'bench-password-1',
    options: { data: { full_name: 'Bench Traveller' } },
  })
  if (error || !data.session) throw error ?? new Error('no session')
  const userId = data.user!.id
  const headers = { authorization: `Bearer ${data.session.access_token}`, apikey: stack.keys.publishableKey }

  // ---- data ------------------------------------------------------------------

  console.log(
    `Inserting ${AUTHORS} travellers, ${GROUPS} groups and ${POSTS.toLocaleString('en')} posts ` +
      `(the user in ${MY_GROUPS} groups, with ${FRIENDS} friends)…`,
  )
  const t0 = performance.now()
  await admin.begin(async (tx) => {
    await tx`select setseed(0.42)`
    await tx`insert into auth.users (email, raw_app_meta_data, raw_user_meta_data)
      select 'bench-author-' || g || '@example.com', '{"provider":"email"}', jsonb_build_object('full_name', 'Author ' || g)
      from generate_series(1, ${AUTHORS}::int) g`
    await tx`create temporary table authors on commit drop as
      select row_number() over (order by id) as n, id from auth.users where email like 'bench-author-%'`
    // Groups: every third one private; the trigger makes each owner its owner member.
    await tx`insert into pam.groups (owner_id, name, visibility)
      select a.id, 'Bench group ' || g, case when g % 3 = 0 then 'private' else 'public' end
      from generate_series(1, ${GROUPS}::int) g join authors a on a.n = 1 + (g * 7) % ${AUTHORS}::int`
    await tx`create temporary table bench_groups on commit drop as
      select row_number() over (order by id) as n, id, owner_id, visibility from pam.groups`
    // The user: in 10 public and 10 private groups.
    await tx`insert into pam.group_members (group_id, user_id)
      select id, ${userId} from (
        (select id from bench_groups where visibility = 'public' order by n limit ${MY_GROUPS / 2})
        union all (select id from bench_groups where visibility = 'private' order by n limit ${MY_GROUPS / 2})) x`
    await tx`insert into pam.friendships (requester_id, addressee_id, status, responded_at)
      select id, ${userId}, 'accepted', now() from authors where n <= ${FRIENDS}`
    // Posts: 40% public, 10% for friends, 50% in a group (by its owner); 20% placed; 1% hidden.
    await tx`
      with s as (
        select g, random() as r_kind, random() as r_author, random() as r_group, random() as r_when,
               random() as r_place, random() as r_lat, random() as r_lng, random() as r_hidden
        from generate_series(1, ${POSTS}::int) g
      )
      insert into pam.posts (author_id, body, visibility, group_id, tags, location_name, latitude, longitude,
                             hidden, created_at)
      select coalesce(bg.owner_id, a.id), 'Bench post ' || s.g,
             case when s.r_kind < 0.4 then 'public' when s.r_kind < 0.5 then 'friends' else 'group' end,
             bg.id,
             case when s.g % 10 = 0 then array['free-camping'] else '{}' end,
             case when s.r_place < 0.2 then 'Somewhere' end,
             case when s.r_place < 0.2 then -39 + s.r_lat * 27 end,
             case when s.r_place < 0.2 then 114 + s.r_lng * 39 end,
             s.r_hidden < 0.01,
             now() - s.r_when * interval '365 days'
      from s
      join authors a on a.n = 1 + floor(s.r_author * ${AUTHORS}::int)::int
      left join bench_groups bg on s.r_kind >= 0.5 and bg.n = 1 + floor(s.r_group * ${GROUPS}::int)::int`
  })
  await admin`vacuum analyze pam.posts, pam.groups, pam.group_members, pam.friendships`
  const [counts] = await admin`
    select count(*) filter (where group_id = any (select group_id from pam.group_members where user_id = ${userId}))::int as in_my_groups,
           count(*) filter (where visibility = 'public')::int as public,
           count(*) filter (where visibility = 'friends' and author_id in
             (select requester_id from pam.friendships where addressee_id = ${userId}))::int as from_friends
    from pam.posts`
  console.log(
    `  done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${counts.public} public posts, ` +
      `${counts.in_my_groups} in the user's groups, ${counts.from_friends} friends-only posts by their friends`,
  )

  // ---- requests through the gateway ---------------------------------------------

  const base = `${stack.url}/functions/v1/social`
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers })
    if (res.status !== 200) throw new Error(`GET ${path}: status ${res.status}: ${await res.text()}`)
    return await res.json() as Page
  }
  const rows: Record<string, string | number>[] = []
  /** Times REQUESTS calls of path(i) (after WARM_UP untimed); `seen` gets each answer. */
  const run = async (request: string, path: (i: number) => string, seen?: (page: Page) => void) => {
    const found: number[] = []
    await measure(WARM_UP, 1, async (i) => seen?.(await get(path(i))))
    const { latencies } = await measure(REQUESTS, 1, async (i) => {
      const page = await get(path(i))
      found.push(page.posts.length)
      seen?.(page)
    })
    rows.push({
      request,
      requests: latencies.length,
      'p50 ms': percentile(latencies, 50).toFixed(2),
      'p99 ms': percentile(latencies, 99).toFixed(2),
      'mean ms': (latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(2),
      'posts per page': (found.reduce((a, b) => a + b, 0) / found.length).toFixed(1),
    })
  }

  await run('GET /social/feed (first page, 20)', () => '/feed?limit=20')
  // Scrolling: each request is the next page of the previous one (back to the start at the end).
  let cursor: string | null = null
  await run(
    'GET /social/feed, the next page by cursor',
    () => `/feed?limit=20${cursor ? `&cursor=${cursor}` : ''}`,
    (page) => cursor = page.next_cursor,
  )
  await run('GET /social/feed?filter=groups', () => '/feed?limit=20&filter=groups')
  await run('GET /social/feed?filter=friends', () => '/feed?limit=20&filter=friends')
  await run('GET /social/feed?tag=free-camping', () => '/feed?limit=20&tag=free-camping')
  const towns = [[-33.87, 151.2], [-37.81, 144.96], [-23.7, 133.88], [-31.95, 115.86], [-16.92, 145.77]]
  await run('GET /social/feed?near=…&radius_km=100', (i) => `/feed?limit=20&near=${towns[i % 5].join(',')}&radius_km=100`)

  console.log(
    `\nThrough the local gateway (JWT, rate limits, RLS), one request at a time, real Postgres; ` +
      `${POSTS.toLocaleString('en')} posts, the user in ${MY_GROUPS} of ${GROUPS} groups with ${FRIENDS} friends:`,
  )
  printTable(rows)

  // ---- the plan, as the user --------------------------------------------------------

  const userDb = database({ url: stack.databaseUrl, poolMax: 1, statementTimeoutMs: 60_000, acquireTimeoutMs: 5000 })
  const asUser = postgresClient(userDb, { sub: userId, role: 'authenticated', aud: 'authenticated' })
  const planOf = async (f: FeedFilters) => {
    let plan: string[] = []
    const explaining = {
      queryRaw: async (text: string, values?: unknown[]) => {
        plan = await explainAsUser(asUser, 'analyze, buffers, costs off', text, values)
        return []
      },
    } as unknown as PostgresApi
    const { values, p } = params()
    await postPage(explaining, feedWhere(f, p), values, p, 20)
    return plan
  }
  const summary: Record<string, string | number>[] = []
  const plans: [string, Partial<FeedFilters>, RegExp][] = [
    ['feed', { filter: 'all' }, /Index Scan using posts_feed_idx on posts/],
    ['feed, groups', { filter: 'groups' }, /Index Scan using posts_feed_idx on posts/],
    ['feed, near Sydney 100 km', { filter: 'all', near: { lat: -33.87, lng: 151.2 }, radius_km: 100 }, /Index Scan on posts_pkey/],
  ]
  for (const [name, f, index] of plans) {
    const filters = { radius_km: 50, ...f } as FeedFilters
    await planOf(filters) // a fresh connection's first plan pays for its catalog caches
    const plan = await planOf(filters)
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of the ${name} query, as the user under RLS:`)
    for (const line of plan) console.log(`  ${line}`)
    const text = plan.join('\n')
    const used = index.test(text)
    if (!used || /Seq Scan on posts/.test(text)) failed = true
    summary.push({
      query: name,
      'execution ms': /Execution Time: ([\d.]+)/.exec(text)?.[1] ?? '?',
      'shared hit': /Buffers: shared hit=(\d+)/.exec(text)?.[1] ?? '0',
      index: `${used ? 'yes' : 'NO'} (${/posts_\w+/.exec(index.source)![0]})`,
      'seq scans': (text.match(/(?<=Seq Scan on )\w+/g) ?? []).join(', ') || 'none',
    })
  }
  await userDb.end()
  // Inside pam.social_posts_near (as its definer, past RLS): the box must be an index condition.
  const near = (await admin.unsafe(`explain (analyze, buffers, costs off)
    select pam.social_posts_near(-33.87, 151.2, 100000), (select count(*) from pam.posts n
     where not n.hidden and n.latitude is not null and extensions.earth_box(extensions.ll_to_earth(-33.87, 151.2), 100000)
       operator(extensions.@>) extensions.ll_to_earth(n.latitude, n.longitude))`))
    .map((l) => l['QUERY PLAN'] as string).join('\n')
  const boxed = /Index Cond: \(earth_box/.test(near) || /Bitmap Index Scan on posts_location_idx[^\n]*\n\s*Index Cond/.test(near)
  if (!boxed) failed = true
  summary.push({
    query: 'pam.social_posts_near (its box)',
    'execution ms': /Execution Time: ([\d.]+)/.exec(near)?.[1] ?? '?',
    'shared hit': /Buffers: shared hit=(\d+)/.exec(near)?.[1] ?? '0',
    index: `${boxed ? 'yes' : 'NO'} (posts_location_idx)`,
    'seq scans': (near.match(/(?<=Seq Scan on )\w+/g) ?? []).join(', ') || 'none',
  })
  console.log('\nPlans:')
  printTable(summary)
  if (failed) console.error('\nFAIL: a feed query does not use its index (posts_feed_idx, posts_location_idx)')
} finally {
  await admin.end({ timeout: 1 })
  await stop()
}
if (failed) Deno.exit(1)
