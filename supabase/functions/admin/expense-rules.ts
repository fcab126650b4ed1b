// The merchant and keyword rules that classify expenses sent without a
// category. Wins' built-in rules stay in code (wins/classify.ts) as the
// defaults; the rules kept here are data, read by Wins on every
// classification before the built-in rules of their kind, so an edit here
// changes the next expense classified, with no deploy.
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { body, errorOf, IdParams, isoSql, json } from '../_shared/resource.ts'
import { BUILTIN_SLUGS } from '../wins/categories.ts'
import { adminRoute, asAdmin } from './gate.ts'

const TAGS = ['admin: reference data']

const Pattern = z.string().transform((s) => s.trim().toLowerCase().replace(/[’‘]/g, "'"))
  .pipe(z.string().min(1).max(100).regex(/^[^\p{Cc}\p{Cf}\p{Cs}]+$/u, 'no control or format characters'))
  .openapi({ type: 'string', example: 'outback fuel co', description: 'matched as whole words, case-insensitively' })
const Category = z.enum(BUILTIN_SLUGS as [string, ...string[]]).openapi({ description: 'a built-in category' })

const Rule = z.object({
  id: z.string(),
  kind: z.enum(['merchant', 'keyword']),
  pattern: z.string(),
  category: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('ExpenseRule')
type Rule = z.infer<typeof Rule>

const RuleCreate = z.object({ kind: z.enum(['merchant', 'keyword']), pattern: Pattern, category: Category }).strict()
  .openapi('ExpenseRuleCreate')
const RulePatch = z.object({ pattern: Pattern, category: Category }).partial().strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update').openapi('ExpenseRulePatch')

const SELECT = `r.id, r.kind, r.pattern, r.category, ${isoSql('r.created_at')} as created_at, ${isoSql('r.updated_at')} as updated_at`

async function ruleOf(tx: Tx, id: string): Promise<Rule> {
  const [row] = await tx.unsafe(`select ${SELECT} from pam.expense_rules r where r.id = $1::uuid`, [id])
  if (!row) throw notFound('rule')
  return row as unknown as Rule
}

const duplicate = () => new ApiError(409, 'rule_exists', 'a rule of this kind with this pattern exists already')

/** A write that may collide with another rule's pattern: 409, not a constraint name. */
async function unique<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if ((err as { constraint_name?: string }).constraint_name === 'expense_rules_kind_pattern_key') throw duplicate()
    throw err
  }
}

export function registerExpenseRuleRoutes(app: App) {
  const one = z.object({ rule: Rule })
  const noSuch = errorOf('No such rule')
  const forbidden = errorOf('Not an admin')

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/expense-rules',
      tags: TAGS,
      summary: 'The expense classification rules admins keep (merchants, then keywords)',
      responses: { 200: { description: 'Every rule', ...json(z.object({ rules: z.array(Rule) })) }, 403: forbidden },
    }),
    async (c) => {
      const rules = await asAdmin(c, (tx) => tx.unsafe(`select ${SELECT} from pam.expense_rules r order by r.kind desc, r.pattern`))
      return c.json({ rules: rules as unknown as Rule[] }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/expense-rules',
      tags: TAGS,
      summary: 'Add a rule: expenses whose merchant or description has the pattern get the category',
      request: body(RuleCreate),
      responses: { 201: { description: 'Added', ...json(one) }, 403: forbidden, 409: errorOf('rule_exists') },
    }),
    async (c) => {
      const input = c.req.valid('json')
      const rule = await asAdmin(c, (tx, admin) =>
        unique(async () => {
          const [{ id }] = await tx`insert into pam.expense_rules (kind, pattern, category)
            values (${input.kind}, ${input.pattern}, ${input.category}) returning id`
          const after = await ruleOf(tx, id)
          await admin.audit({ action: 'expense_rule.create', target_type: 'expense_rule', target_id: id, before: null, after })
          return after
        }))
      return c.json({ rule }, 201)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'patch',
      path: '/expense-rules/{id}',
      tags: TAGS,
      summary: "Change a rule's pattern or category",
      request: { params: IdParams, ...body(RulePatch) },
      responses: { 200: { description: 'Changed', ...json(one) }, 403: forbidden, 404: noSuch, 409: errorOf('rule_exists') },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const patch = c.req.valid('json')
      const rule = await asAdmin(c, (tx, admin) =>
        unique(async () => {
          const before = await ruleOf(tx, id)
          await tx`update pam.expense_rules set pattern = coalesce(${patch.pattern ?? null}, pattern),
            category = coalesce(${patch.category ?? null}, category) where id = ${id}::uuid`
          const after = await ruleOf(tx, id)
          await admin.audit({ action: 'expense_rule.update', target_type: 'expense_rule', target_id: id, before, after })
          return after
        }))
      return c.json({ rule }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'delete',
      path: '/expense-rules/{id}',
      tags: TAGS,
      summary: 'Remove a rule (expenses already classified keep their category)',
      request: { params: IdParams },
      responses: { 204: { description: 'Removed' }, 403: forbidden, 404: noSuch },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      await asAdmin(c, async (tx, admin) => {
        const before = await ruleOf(tx, id)
        await tx`delete from pam.expense_rules where id = ${id}::uuid`
        await admin.audit({ action: 'expense_rule.delete', target_type: 'expense_rule', target_id: id, before, after: null })
      })
      return c.body(null, 204)
    },
  )
}
