// /you/documents: the traveller's papers — registration, insurance, licences —
// each with an optional scan (an object in the `documents` bucket, uploaded
// with supabase-js), an optional expiry date (the document-reminders job
// reminds 30 and 7 days before) and an optional vehicle. Declared as a
// resource; a replaced or deleted scan is removed from storage after the write.
import type { App, AppContext } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { calendarDate } from '../_shared/dates.ts'
import {
  createOf,
  isoSql,
  newestFirst,
  patchOf,
  registerResource,
  type ResourceSpec,
  unknownReference,
  Uuid,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { ObjectPath, ownObjects, removeLeftObjects } from '../_shared/storage.ts'

export const DOCUMENT_KINDS = ['registration', 'insurance', 'licence', 'other'] as const
/** At most this many documents a traveller (enforced by the database: pam.documents_limit). */
export const MAX_DOCUMENTS = 200

const fields = {
  kind: z.enum(DOCUMENT_KINDS).openapi({ example: 'insurance' }),
  title: singleLineText({ max: 200 }).openapi({ example: 'Motorhome insurance (comprehensive)' }),
  object_path: ObjectPath('documents', '00000000-0000-4000-8000-000000000001/insurance-2026.pdf').nullable().optional(),
  reference: singleLineText({ max: 100 }).nullable().optional()
    .openapi({ description: 'a policy, registration or licence number', example: 'POL-4471-223' }),
  expires_on: calendarDate().nullable().optional()
    .openapi({ description: 'the last day it is valid; reminders come 30 and 7 days before, in your time zone' }),
  vehicle_id: Uuid.nullable().optional().openapi({ description: 'the vehicle it is for (registration, insurance)' }),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
}

const COLUMNS: Record<string, string> = {
  kind: 'text',
  title: 'text',
  object_path: 'text',
  reference: 'text',
  expires_on: 'date',
  vehicle_id: 'uuid',
  notes: 'text',
}

export const Document = z.object({
  id: z.string(),
  kind: z.enum(DOCUMENT_KINDS),
  title: z.string(),
  object_path: z.string().nullable().openapi({
    description: "the scan's object name in `documents`: `supabase.storage.from('documents').createSignedUrl(object_path, 60)`",
  }),
  reference: z.string().nullable(),
  expires_on: z.string().nullable(),
  vehicle_id: z.string().nullable(),
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Document')

const unknownFile = () =>
  unknownReference('object_path', 'unknown_file', 'no such file of yours: upload it to the documents bucket first')

/** A scan must be the caller's own object in `documents`. */
async function checkFile(tx: Tx, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const path = input.object_path as string | null | undefined
  if (path && !(await ownObjects(tx, 'documents', [path])).has(path)) throw unknownFile()
  return input
}

export const documentResource: ResourceSpec = {
  one: 'document',
  many: 'documents',
  noun: 'document',
  path: '/documents',
  table: 'pam.documents',
  alias: 'd',
  tags: ['you: documents'],
  schema: Document,
  select: `d.id, d.kind, d.title, d.object_path, d.reference, d.expires_on::text as expires_on, d.vehicle_id, d.notes,
    ${isoSql('d.created_at')} as created_at, ${isoSql('d.updated_at')} as updated_at`,
  order: newestFirst('d'),
  listSummary: 'Your documents, newest first',
  filters: {
    fields: {
      kind: z.enum(DOCUMENT_KINDS).optional(),
      vehicle_id: Uuid.optional(),
      expires_before: calendarDate().optional().openapi({ description: 'only those expiring on or before this day' }),
    },
    where: (f, p) => [
      ...(f.kind ? [`d.kind = ${p(f.kind)}`] : []),
      ...(f.vehicle_id ? [`d.vehicle_id = ${p(f.vehicle_id)}::uuid`] : []),
      ...(f.expires_before ? [`d.expires_on <= ${p(f.expires_before)}::date`] : []),
    ],
  },
  create: {
    schema: createOf(fields).openapi('DocumentCreate'),
    columns: COLUMNS,
    summary: 'Keep a document (registration, insurance, licence), its scan and its expiry date',
    prepare: checkFile,
  },
  patch: {
    schema: patchOf(fields).openapi('DocumentPatch'),
    columns: COLUMNS,
    summary: 'Change a document (a replaced or cleared scan is removed from storage)',
    prepare: checkFile,
  },
  refusals: {
    documents_vehicle_fkey: () => unknownReference('vehicle_id', 'unknown_vehicle', 'not one of your vehicles'),
    documents_object_path_check: unknownFile,
    documents_limit: () =>
      new ApiError(409, 'limit_reached', `at most ${MAX_DOCUMENTS} documents`, { limit: 'documents', max: MAX_DOCUMENTS }),
  },
  // A scan replaced, cleared or deleted with its document is queued by the database; removed now.
  afterWrite: (c: AppContext) => removeLeftObjects(c.var.config, c.var.userId!),
}

export function registerDocumentRoutes(app: App): void {
  registerResource(app, documentResource)
}
