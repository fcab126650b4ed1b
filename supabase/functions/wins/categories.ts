// The fixed expense categories for life on the road (mirrored in SQL by
// pam.wins_builtin_categories(); a test keeps the two equal). Users add
// their own in pam.expense_categories.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { singleLineText } from '../_shared/text.ts'
import { body, errorOf, json, MAX_OWN_CATEGORIES, writeTransaction } from './common.ts'

export const BUILTIN_CATEGORIES = [
  { slug: 'fuel', label: 'Fuel' },
  { slug: 'camping', label: 'Camping and site fees' },
  { slug: 'food', label: 'Food and groceries' },
  { slug: 'dining', label: 'Dining out' },
  { slug: 'maintenance', label: 'Maintenance and repairs' },
  { slug: 'insurance', label: 'Insurance' },
  { slug: 'registration', label: 'Registration' },
  { slug: 'tolls', label: 'Tolls and ferries' },
  { slug: 'utilities', label: 'Propane and utilities' },
  { slug: 'connectivity', label: 'Phone and internet' },
  { slug: 'entertainment', label: 'Entertainment' },
  { slug: 'health', label: 'Health' },
  { slug: 'other', label: 'Other' },
] as const

export type BuiltinCategory = typeof BUILTIN_CATEGORIES[number]['slug']

export const BUILTIN_SLUGS: readonly string[] = BUILTIN_CATEGORIES.map((c) => c.slug)

export const isBuiltinCategory = (slug: string) => BUILTIN_SLUGS.includes(slug)

const SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/

/** A category slug: lowercase letters and digits in words joined by single hyphens, 2–40 characters. */
export const CategorySlug = z.string().min(2).max(40)
  .regex(SLUG_PATTERN, 'lowercase letters and digits, words joined by "-", such as "laundry" or "dog-care"')
  .openapi({ example: 'fuel' })

// --- /wins/categories: the fixed list plus the user's own ---

const Category = z.object({
  slug: z.string(),
  label: z.string(),
  builtin: z.boolean(),
}).openapi('Category')

const CategoryCreate = z.object({
  slug: CategorySlug,
  label: singleLineText({ max: 60 }).openapi({ example: 'Laundry' }),
}).strict().openapi('CategoryCreate')

const tags = ['wins: categories']

const listCategories = route({
  method: 'get',
  path: '/categories',
  auth: 'user',
  tags,
  summary: 'The fixed categories, then your own',
  responses: { 200: { description: 'Every category you can use', ...json(z.object({ categories: z.array(Category) })) } },
})

const createCategory = route({
  method: 'post',
  path: '/categories',
  auth: 'user',
  tags,
  summary: `Add a category of your own (at most ${MAX_OWN_CATEGORIES})`,
  request: body(CategoryCreate),
  responses: {
    201: { description: 'Created', ...json(z.object({ category: Category })) },
    409: errorOf(`category_exists (yours or a fixed one), or limit_reached (${MAX_OWN_CATEGORIES} of your own)`),
  },
})

const deleteCategory = route({
  method: 'delete',
  path: '/categories/{slug}',
  auth: 'user',
  tags,
  summary: 'Delete a category of your own (not while expenses or budgets use it)',
  request: { params: z.object({ slug: CategorySlug }) },
  responses: {
    204: { description: 'Deleted' },
    400: errorOf('builtin_category: the fixed categories cannot be deleted'),
    404: errorOf('No such category of yours'),
    409: errorOf('category_in_use, with the expense and budget counts'),
  },
})

export function registerCategoryRoutes(app: App) {
  app.openapi(listCategories, async (c) => {
    const own = await c.var.postgres.query<{ slug: string; label: string }>`
      select slug, label from pam.expense_categories order by slug`
    return c.json({
      categories: [
        ...BUILTIN_CATEGORIES.map((b) => ({ slug: b.slug, label: b.label, builtin: true })),
        ...own.map((o) => ({ slug: o.slug, label: o.label, builtin: false })),
      ],
    }, 200)
  })

  app.openapi(createCategory, async (c) => {
    const { slug, label } = c.req.valid('json')
    if (isBuiltinCategory(slug)) throw new ApiError(409, 'category_exists', `"${slug}" is a fixed category`)
    // The database enforces the limit (a count here could be passed by parallel requests).
    const category = await writeTransaction(c, async (tx) => {
      const [row] = await tx`
        insert into pam.expense_categories (slug, label) values (${slug}, ${label})
        on conflict (user_id, slug) do nothing
        returning slug, label`
      if (!row) throw new ApiError(409, 'category_exists', `you already have a category "${slug}"`)
      return { slug: row.slug as string, label: row.label as string, builtin: false }
    })
    return c.json({ category }, 201)
  })

  app.openapi(deleteCategory, async (c) => {
    const { slug } = c.req.valid('param')
    if (isBuiltinCategory(slug)) throw new ApiError(400, 'builtin_category', `"${slug}" is a fixed category`)
    await c.var.postgres.transaction(async (tx) => {
      const [own] = await tx`select id from pam.expense_categories where slug = ${slug} for update`
      if (!own) throw notFound('category')
      const [use] = await tx`
        select (select count(*)::int from pam.expenses where user_id = (select auth.uid()) and category = ${slug}) as expenses,
               (select count(*)::int from pam.budgets where user_id = (select auth.uid()) and category = ${slug}) as budgets`
      if (use.expenses > 0 || use.budgets > 0) {
        throw new ApiError(409, 'category_in_use', `"${slug}" is used by ${use.expenses} expense(s) and ${use.budgets} budget(s)`, use)
      }
      await tx`delete from pam.expense_categories where id = ${own.id}`
    })
    return c.body(null, 204)
  })
}
