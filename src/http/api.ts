/**
 * The HTTP contract, described once: each route's method, path, parameters and body (the very valibot schemas that
 * validate them) and its answers. app.ts mounts its handlers on these descriptions, and openapi.ts turns them into
 * the OpenAPI document served at GET /openapi.json (docs/api.md).
 */
import * as v from 'valibot'
import { REJECT_REASONS, SelectionInput } from '../ingest/redrive.js'
import { ORDER_UID_PATTERN, orderSchema } from '../ingest/order-schema.js'
import { ERROR_CODES } from './errors.js'
import { REDRIVE_PATH } from './routes/redrive.js'
import { PageQuery, RowId } from './validation.js'

/** The contract's version (info.version): raised when an answer changes incompatibly. */
export const API_VERSION = '1.0.0'

type Schema = v.GenericSchema

/** An answer: JSON described by a valibot schema or a JSON Schema (the order), or another media type; none for 304. */
export interface ApiAnswer {
  description: string
  json?: Schema | { jsonSchema: object }
  mediaType?: string
  headers?: readonly string[]
}

export interface ApiRoute {
  method: 'GET' | 'POST'
  /** In Hono's form (`:id`). */
  path: string
  summary: string
  /** Path parameters, by name. */
  params?: Record<string, Schema | { pattern: string }>
  query?: v.ObjectSchema<v.ObjectEntries, undefined>
  /** A JSON body; optional (an empty body is `{}`). */
  body?: Schema
  answers: Record<number, ApiAnswer>
}

const Instant = v.pipe(v.string(), v.isoTimestamp())

export const ErrorBody = v.strictObject({
  error: v.strictObject({ code: v.picklist(ERROR_CODES), message: v.string() }),
})

const RejectErrors = v.array(v.strictObject({ path: v.string(), message: v.string() }))
const Reason = v.picklist(REJECT_REASONS)
/** Still refused, by reason: a partial record over the reasons. */
const RejectedCounts = v.partial(v.strictObject(Object.fromEntries(REJECT_REASONS.map((reason) => [reason, v.number()]))))

const DeadLetterSummary = v.strictObject({
  id: v.string(),
  received_at: Instant,
  channel: v.string(),
  broker_seq: v.nullable(v.string()),
  reason: Reason,
  errors: RejectErrors,
  order_uid: v.nullable(v.string()),
  payload_size: v.number(),
  payload_sha256: v.string(),
  preview: v.string(),
  replayed_at: v.nullable(Instant),
  replay_outcome: v.nullable(v.string()),
  origin_channel: v.nullable(v.string()),
  origin_seq: v.nullable(v.string()),
})

const DeadLetter = v.strictObject({
  ...DeadLetterSummary.entries,
  payload: v.strictObject({ encoding: v.picklist(['utf8', 'base64']), data: v.string(), truncated: v.boolean() }),
})

const ReplayResult = v.union([
  v.strictObject({ outcome: v.picklist(['stored', 'duplicate']) }),
  v.strictObject({ outcome: v.literal('rejected'), reason: Reason, errors: RejectErrors }),
])

const Selection = v.strictObject({
  reason: v.nullable(Reason),
  channel: v.nullable(v.string()),
  from: v.nullable(Instant),
  to: v.nullable(Instant),
  limit: v.nullable(v.number()),
})

const Counts = { stored: v.number(), duplicate: v.number(), rejected: RejectedCounts, truncated: v.number() }

const Redrive = v.strictObject({
  redrive: v.strictObject({
    id: v.string(),
    selection: Selection,
    started_at: Instant,
    finished_at: v.nullable(Instant),
    total: v.number(),
    done: v.number(),
    finished: v.boolean(),
    ...Counts,
  }),
})

const Checks = v.strictObject({ database: v.boolean(), subscription: v.boolean(), cache: v.boolean() })

const RETRY = ['retry-after']

/** Answers every route may give: the Host check, a bug. */
const EVERY_ROUTE: Record<number, ApiAnswer> = {
  421: { description: 'The Host is not one the service is reached by (ALLOWED_HOSTS): unknown_host.', json: ErrorBody },
  500: { description: 'An unexpected failure: internal.', json: ErrorBody },
}

/** Routes that read the database: it may not answer within its bound. */
const READS: Record<number, ApiAnswer> = {
  503: { description: 'The database is unavailable: not_ready.', json: ErrorBody, headers: RETRY },
}

/** Admin routes (ADMIN_PATHS of app.ts): the token or a local operator, and no other site. */
const ADMIN: Record<number, ApiAnswer> = {
  401: { description: 'ADMIN_TOKEN is set and the request does not carry it: unauthorized.', json: ErrorBody, headers: ['www-authenticate'] },
  403: { description: 'Sent by another site, or without ADMIN_TOKEN from other than a local operator: forbidden.', json: ErrorBody },
}

const POSTED: Record<number, ApiAnswer> = {
  403: ADMIN[403] as ApiAnswer,
  413: { description: 'The body is over its bound: payload_too_large.', json: ErrorBody },
}

const listed = (what: string) => ({ description: `No ${what} has this id: not_found.`, json: ErrorBody })
const invalidId: ApiAnswer = { description: 'The id is not one: invalid_id.', json: ErrorBody }
const invalidQuery: ApiAnswer = { description: 'A parameter is out of its bounds: invalid_query.', json: ErrorBody }

/** GET /order/:id, answered by order-by-id.ts (its fast path too), is described here with the rest. */
export const ORDER_ROUTE: ApiRoute = {
  method: 'GET',
  path: '/order/:id',
  summary: 'One order by its order_uid, as it was received; cacheable for ever.',
  params: { id: { pattern: ORDER_UID_PATTERN } },
  answers: {
    200: { description: 'The order (schema/model.schema.json).', json: { jsonSchema: orderSchema }, headers: ['etag', 'cache-control'] },
    304: { description: 'If-None-Match matches the ETag.', headers: ['etag'] },
    400: invalidId,
    404: listed('order'),
    ...EVERY_ROUTE,
    503: { description: 'The database is unavailable, or too many uncached lookups wait for it: not_ready.', json: ErrorBody, headers: RETRY },
  },
}

export const API = {
  orders: {
    method: 'GET',
    path: '/orders',
    summary: 'Admin. The newest orders first, a page at a time.',
    query: PageQuery,
    answers: {
      200: {
        description: 'A page; `next` is the `before` of the next page, null on the last.',
        json: v.strictObject({
          orders: v.array(v.strictObject({ order_uid: v.string(), date_created: v.string(), received_at: Instant })),
          next: v.nullable(v.string()),
        }),
      },
      400: invalidQuery,
      ...ADMIN,
      ...EVERY_ROUTE,
      ...READS,
    },
  },
  deadLetters: {
    method: 'GET',
    path: '/dead-letters',
    summary: 'Admin. The newest dead letters first, without payloads.',
    query: PageQuery,
    answers: {
      200: { description: 'A page, as for /orders.', json: v.strictObject({ dead_letters: v.array(DeadLetterSummary), next: v.nullable(v.string()) }) },
      400: invalidQuery,
      ...ADMIN,
      ...EVERY_ROUTE,
      ...READS,
    },
  },
  deadLetter: {
    method: 'GET',
    path: '/dead-letters/:id',
    summary: 'Admin. One dead letter with its payload (text when UTF-8, base64 otherwise).',
    params: { id: RowId },
    answers: { 200: { description: 'The dead letter.', json: DeadLetter }, 400: invalidId, 404: listed('dead letter'), ...ADMIN, ...EVERY_ROUTE, ...READS },
  },
  replay: {
    method: 'POST',
    path: '/dead-letters/:id/replay',
    summary: 'Admin. The stored payload through the gate again; stored when it now passes. No body.',
    params: { id: RowId },
    answers: {
      200: { description: 'The outcome.', json: ReplayResult },
      400: invalidId,
      404: listed('dead letter'),
      409: { description: 'Only part of the payload was kept: truncated.', json: ErrorBody },
      ...ADMIN,
      ...POSTED,
      ...EVERY_ROUTE,
      ...READS,
    },
  },
  redrive: {
    method: 'POST',
    path: REDRIVE_PATH,
    summary: 'Admin. Bulk re-drive of the dead letters selected; with dry_run, what it would do, writing nothing.',
    body: v.strictObject({ ...SelectionInput.pipe[0].entries, dry_run: v.optional(v.boolean()) }),
    answers: {
      200: {
        description: 'The dry run.',
        json: v.strictObject({ dry_run: v.literal(true), selection: Selection, selected: v.number(), ...Counts }),
      },
      202: { description: 'Started (or the running one of the same selection); Location is its state.', json: Redrive, headers: ['location'] },
      400: { description: 'The body is not a selection: invalid_body.', json: ErrorBody },
      ...ADMIN,
      ...POSTED,
      ...EVERY_ROUTE,
      ...READS,
    },
  },
  redriveState: {
    method: 'GET',
    path: `${REDRIVE_PATH}/:id`,
    summary: "Admin. A re-drive's progress.",
    params: { id: RowId },
    answers: { 200: { description: 'How far it is.', json: Redrive }, 400: invalidId, 404: listed('re-drive'), ...ADMIN, ...EVERY_ROUTE, ...READS },
  },
  health: {
    method: 'GET',
    path: '/healthz',
    summary: 'The process answers.',
    answers: { 200: { description: 'Alive.', json: v.strictObject({ status: v.literal('ok') }) }, ...EVERY_ROUTE },
  },
  ready: {
    method: 'GET',
    path: '/readyz',
    summary: 'Ready when the database answers, the subscription is live and the cache is filled.',
    answers: {
      200: { description: 'Ready.', json: v.strictObject({ status: v.literal('ready'), checks: Checks }) },
      ...EVERY_ROUTE,
      503: {
        description: 'Not ready: the checks say which part is not.',
        json: v.strictObject({ status: v.literal('not_ready'), checks: Checks, error: ErrorBody.entries.error }),
      },
    },
  },
  metrics: {
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (docs/operations.md).',
    answers: { 200: { description: 'Prometheus text.', mediaType: 'text/plain' }, ...EVERY_ROUTE },
  },
  openapi: {
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document.',
    answers: { 200: { description: 'OpenAPI 3.1.', json: v.looseObject({ openapi: v.string() }) }, ...EVERY_ROUTE },
  },
  page: {
    method: 'GET',
    path: '/',
    summary: 'The lookup page; its other files (static/) are served under their own paths.',
    answers: {
      200: { description: 'The page.', mediaType: 'text/html', headers: ['etag'] },
      304: { description: 'If-None-Match matches the ETag.', headers: ['etag'] },
      ...EVERY_ROUTE,
    },
  },
} as const satisfies Record<string, ApiRoute>
