/**
 * The order schema, written once here as a `const` value from which both the runtime validator and the
 * `Order` type come. Why TypeScript and not the JSON file as the source: a JSON import widens every literal
 * (`'string'` becomes `string`), so no type could be derived from it, and a hand-written type could drift.
 * schema/model.schema.json is this value printed (orderSchemaText()); a test keeps the two identical.
 *
 * Every object is built by `object()`, so "all fields required, nothing else allowed" holds by construction.
 */

/** Ids that are also used in URLs and logs. GET /order/:id's rule is derived from it (src/http/order-by-id.ts). */
export const ORDER_UID_PATTERN = '^[A-Za-z0-9_-]{1,64}$'

const MAX_MONEY = 1_000_000_000_000
const MAX_ID = Number.MAX_SAFE_INTEGER
/** 2100-01-01T00:00:00Z: a payment time after that is a unit mistake (milliseconds), not a date. */
const MAX_UNIX_SECONDS = 4_102_444_800

const text = (options: { maxLength?: number; allowEmpty?: boolean } = {}) =>
  ({ type: 'string', minLength: options.allowEmpty ? 0 : 1, maxLength: options.maxLength ?? 255 }) as const
const id = { type: 'string', pattern: ORDER_UID_PATTERN } as const
const integer = (maximum: number, minimum = 0) => ({ type: 'integer', minimum, maximum }) as const

type Properties = Readonly<Record<string, object>>

function object<const P extends Properties>(properties: P) {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties) as (keyof P & string)[],
    additionalProperties: false,
  } as const
}

const delivery = object({
  name: text(),
  phone: { type: 'string', pattern: '^\\+?[0-9]{5,20}$' },
  zip: text({ maxLength: 32 }),
  city: text(),
  address: text(),
  region: text(),
  email: { type: 'string', maxLength: 254, format: 'email' },
})

const payment = object({
  transaction: id,
  request_id: text({ allowEmpty: true }),
  currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  provider: text(),
  amount: integer(MAX_MONEY),
  payment_dt: integer(MAX_UNIX_SECONDS),
  bank: text(),
  delivery_cost: integer(MAX_MONEY),
  goods_total: integer(MAX_MONEY),
  custom_fee: integer(MAX_MONEY),
})

const item = object({
  chrt_id: integer(MAX_ID),
  track_number: id,
  price: integer(MAX_MONEY),
  rid: id,
  name: text(),
  sale: integer(100),
  size: text({ maxLength: 32 }),
  total_price: integer(MAX_MONEY),
  nm_id: integer(MAX_ID),
  brand: text(),
  status: integer(MAX_ID),
})

export const orderSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://order-service.local/schema/model.schema.json',
  title: 'Order',
  description: 'One order message on the channel. Generated from src/ingest/order-schema.ts; edit that file, not this one.',
  ...object({
    order_uid: id,
    track_number: id,
    entry: text({ maxLength: 32 }),
    delivery,
    payment,
    items: { type: 'array', minItems: 1, maxItems: 100, items: item },
    locale: text({ maxLength: 32 }),
    internal_signature: text({ allowEmpty: true }),
    customer_id: text(),
    delivery_service: text(),
    shardkey: text({ maxLength: 32 }),
    sm_id: integer(MAX_ID),
    date_created: { type: 'string', maxLength: 64, format: 'date-time' },
    oof_shard: text({ maxLength: 32 }),
  }),
} as const

/** The TypeScript value a schema describes; covers the keywords this schema uses. */
type FromSchema<S> = S extends { type: 'object'; properties: infer P }
  ? { -readonly [K in keyof P]: FromSchema<P[K]> }
  : S extends { type: 'array'; items: infer I }
    ? FromSchema<I>[]
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' }
        ? number
        : never

export type Order = FromSchema<typeof orderSchema>

/** The text of schema/model.schema.json. */
export function orderSchemaText(): string {
  return `${JSON.stringify(orderSchema, null, 2)}\n`
}
