// PAM's memory of a traveller: what they asked it to keep ("I drive a 2019
// Jayco", "we avoid toll roads"), found again for a message by full-text rank
// and trigram similarity, weighed by importance and recency.
import type { Tx } from '../db.ts'
import type { PostgresApi } from '../db.ts'
import { isoSql } from '../resource.ts'

export interface Memory {
  id: string
  kind: 'fact' | 'preference' | 'event'
  content: string
  importance: number
  created_at: string
}

const MEMORY_COLUMNS = `m.id, m.kind, m.content, m.importance, ${isoSql('m.created_at')} as created_at`
export const MEMORY_SELECT = MEMORY_COLUMNS

/** The memories most relevant to `text` (at most `limit`), best first: any of its words
 * (stemmed, stop words dropped) ranked by full-text match, then by trigram similarity to
 * the message (typos, partial names), importance and recency. */
export async function recall(db: PostgresApi, text: string, limit = 5): Promise<Memory[]> {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []).slice(0, 20)
  if (!words.length) return []
  const any = words.join(' or ')
  return await db.queryRaw<Memory>(
    `select ${MEMORY_COLUMNS}
     from pam.memories m
     where m.user_id = (select auth.uid()) and (m.expires_at is null or m.expires_at > now())
       and (m.search @@ websearch_to_tsquery('english', $1) or extensions.similarity($2, m.content) > 0.3)
     order by ts_rank(m.search, websearch_to_tsquery('english', $1)) + extensions.similarity($2, m.content)
              + m.importance * 0.05
              + case when m.created_at > now() - interval '30 days' then 0.05 else 0 end desc,
              m.created_at desc
     limit $3`,
    [any, text.slice(0, 500), limit],
  )
}

/** Keeps what the traveller said. The same content again is the same memory. */
export async function remember(tx: Tx, content: string, kind: Memory['kind'], sourceMessageId: string | null): Promise<Memory> {
  const [existing] = await tx.unsafe<Memory[]>(
    `select ${MEMORY_COLUMNS} from pam.memories m where m.user_id = (select auth.uid()) and lower(m.content) = lower($1)`,
    [content],
  )
  if (existing) return existing
  const [row] = await tx.unsafe<Memory[]>(
    `insert into pam.memories as m (kind, content, source_message_id, importance)
     values ($1, $2, $3::uuid, $4) returning ${MEMORY_COLUMNS}`,
    [kind, content, sourceMessageId, kind === 'preference' ? 4 : 3] as never[],
  )
  return row
}

/** Forgets the memory that best matches `text`; null when none is close. */
export async function forget(tx: Tx, text: string): Promise<Memory | null> {
  const [row] = await tx.unsafe<Memory[]>(
    `delete from pam.memories m where m.id = (
       select x.id from pam.memories x
       where x.user_id = (select auth.uid()) and extensions.word_similarity($1, x.content) > 0.4
       order by extensions.word_similarity($1, x.content) desc, x.created_at desc limit 1)
     returning ${MEMORY_COLUMNS}`,
    [text],
  )
  return row ?? null
}
