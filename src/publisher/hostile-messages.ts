import { generateOrder, type Order } from './generate-orders.js'
import { seededRandom, type Random } from './seeded-random.js'

/** The gate's reasons for rejecting a message before or at the schema (see issue 3, "Gate"). */
export type GateReason = 'empty' | 'too_large' | 'not_utf8' | 'not_json' | 'schema'

export interface HostileMessage {
  kind: HostileKind
  payload: Buffer
  /** What a gate that checks size, UTF-8, JSON, then the schema, in that order, must answer. */
  expectedReason: GateReason
}

export interface HostileOptions {
  /** The service's MAX_MESSAGE_BYTES: a payload larger than this is 'too_large'. */
  maxMessageBytes?: number
}

export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024

const PRINTABLE_ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')

type Builder = (random: Random, order: Order, maxMessageBytes: number) => Buffer

/**
 * Every kind builds a message that no strict schema of the model can accept; what the gate must say about it
 * is then decided by the checks before the schema (see `expectedReason`), so it stays right for any size limit.
 */
const BUILDERS = {
  empty: () => Buffer.alloc(0),
  random_bytes: (random) =>
    random.next() < 0.5
      ? randomBytesWithoutBom(random, random.int(1, 1024))
      : Buffer.from(random.chars(PRINTABLE_ASCII, random.int(1, 1024))), // valid UTF-8, almost never JSON
  invalid_utf8: (random, order) => {
    const json = JSON.stringify(order)
    const at = json.indexOf('"name":"') + '"name":"'.length
    const bad = random.pick([
      [0xff], // never valid in UTF-8
      [0xc0, 0xaf], // overlong encoding of '/'
      [0xed, 0xa0, 0x80], // a surrogate encoded as UTF-8
      [0xfc, 0x6c, 0x6c, 0x65, 0x72], // "üller" in Latin-1
      [0xe2, 0x82], // a three-byte sequence cut short
    ])
    return Buffer.concat([Buffer.from(json.slice(0, at)), Buffer.from(bad), Buffer.from(json.slice(at))])
  },
  truncated_json: (random, order) => {
    const json = JSON.stringify(order)
    // Cut between characters (not inside a UTF-8 sequence) so the only fault is the JSON.
    return Buffer.from(json.slice(0, random.int(1, json.length - 1)))
  },
  malformed_json: (random, order) => {
    const json = JSON.stringify(order)
    return Buffer.from(
      random.pick([
        json.replace(/}$/, ',}'), // trailing comma
        json.replaceAll('"', "'"), // single quotes
        json + json, // two documents
        json.replace(/"order_uid"/, 'order_uid'), // unquoted key
        `// order\n${json}`, // a comment
        json.replace(/"entry":"WBIL"/, '"entry":"WB\nIL"'), // a raw newline inside a string
      ]),
    )
  },
  deeply_nested_json: (random, order) => {
    const depth = random.pick([1_000, 10_000, 50_000])
    return Buffer.from(
      random.pick([
        '['.repeat(depth) + ']'.repeat(depth),
        '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        JSON.stringify({ ...order, delivery: 'DEEP' }).replace('"DEEP"', '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth)),
        '['.repeat(depth), // never closed
      ]),
    )
  },
  not_an_object: (random, order) =>
    Buffer.from(random.pick(['42', '-1.5e10', '"order"', 'null', 'true', '[]', JSON.stringify([order]), '  ""  '])),
  missing_field: (random, order) => {
    const copy = structuredClone(order)
    const path = random.pick(leafPaths(copy))
    deleteAt(copy, path)
    return json(copy)
  },
  extra_field: (random, order) => {
    const copy = structuredClone(order) as unknown as Record<string, Record<string, unknown>>
    const target = random.pick([copy, copy.delivery, copy.payment, (copy.items as unknown as Record<string, unknown>[])[0]])
    if (target) target[random.pick(['discount', 'note', 'order_uid2', 'Order_Uid', ''])] = random.pick([5, 'x', null, {}])
    return json(copy)
  },
  wrong_type: (random, order) => {
    const copy = structuredClone(order) as unknown as Record<string, unknown>
    const mutate = random.pick<(o: Record<string, unknown> & Order) => void>([
      (o) => void (o.payment.amount = String(o.payment.amount) as never), // "1817"
      (o) => void (o.payment.amount = (o.payment.amount + 0.5) as never), // not an integer
      (o) => void (o.sm_id = true as never),
      (o) => void (o.order_uid = 12345 as never),
      (o) => void (o.items = o.items[0] as never), // object instead of array
      (o) => void (o.delivery = [o.delivery] as never), // array instead of object
      (o) => void (o.date_created = Date.parse(o.date_created) as never), // epoch number instead of a date string
      (o) => void (o.date_created = 'yesterday'), // not a date-time
      (o) => void (o.delivery.email = 'not-an-email'),
      (o) => void (o.delivery.phone = 'call me'),
      (o) => void (o.payment.currency = 'usd'),
      (o) => void (o.locale = null as never),
    ])
    mutate(copy as Record<string, unknown> & Order)
    return json(copy)
  },
  huge_string: (random, order, max) => {
    const copy = structuredClone(order)
    // 256 is one over the longest string the schema allows; the others are far over it.
    const length = random.pick([256, 10_000, Math.max(1_000, Math.floor(max / 2))])
    const fill = random.pick(['x', 'я', '🙂'])
    const text = fill.repeat(length)
    random.pick<(o: Order) => void>([
      (o) => void (o.delivery.name = text),
      (o) => void (o.delivery.address = text),
      (o) => void (o.payment.request_id = text),
      (o) => void (o.internal_signature = text),
      (o) => void ((o.items[0] as Order['items'][number]).name = text),
    ])(copy)
    return json(copy)
  },
  huge_array: (random, order, max) => {
    const length = Math.max(1_000, Math.min(50_000, Math.floor(max / 4)))
    const copy = structuredClone(order) as unknown as Record<string, unknown>
    const filler = random.pick([0, 'x', null])
    if (random.next() < 0.5) return Buffer.from(JSON.stringify(new Array(length).fill(filler)))
    copy.items = new Array(length).fill(filler)
    return json(copy)
  },
  number_out_of_range: (random, order) => {
    const copy = structuredClone(order)
    const item = copy.items[0] as Order['items'][number]
    random.pick<() => void>([
      () => void (copy.payment.amount = -1),
      () => void (copy.payment.delivery_cost = -1500),
      () => void (copy.payment.payment_dt = -1),
      () => void (item.price = -453),
      () => void (item.sale = 101),
      () => void (item.sale = -1),
      () => void (item.chrt_id = -9934930),
      () => void (copy.sm_id = -99),
      // Above the schema's bounds: money up to 10^12, ids up to 2^53 - 1, payment_dt up to 2100-01-01.
      () => void (copy.payment.amount = 1e13),
      () => void (item.chrt_id = 2 ** 53),
      () => void (copy.payment.payment_dt = 4102444801),
      () => void (item.total_price = 1e300),
    ])()
    return json(copy)
  },
  nan_like: (random, order) => {
    const text = JSON.stringify(order)
    const amount = `"amount":${order.payment.amount}`
    // NaN and Infinity are not JSON at all; 1e999 is JSON that parses to Infinity, which is no integer.
    const replacement = random.pick(['NaN', 'Infinity', '-Infinity', '1e999', '-1e999', '"NaN"', '"Infinity"', 'null'])
    return Buffer.from(text.replace(amount, `"amount":${replacement}`))
  },
  prototype_pollution: (random, order) => {
    const text = JSON.stringify(order)
    const key = random.pick([
      '"__proto__":{"polluted":true}',
      '"constructor":{"prototype":{"polluted":true}}',
      '"__proto__":{"order_uid":"injected"}',
    ])
    // Written as text: a JS object literal would set the prototype instead of adding a key.
    return Buffer.from(
      random.pick([
        text.replace(/^\{/, `{${key},`),
        text.replace('"delivery":{', `"delivery":{${key},`),
        text.replace('"items":[{', `"items":[{${key},`),
        `{"__proto__":${text}}`,
      ]),
    )
  },
  unsafe_id: (random, order) => {
    const copy = structuredClone(order)
    const id = random.pick([
      "'; drop table orders;--",
      '../../etc/passwd',
      '..%2F..%2Fetc%2Fpasswd',
      'a/b',
      'id with space',
      '<script>alert(1)</script>',
      'ordér',
      'x'.repeat(65),
      '',
      '%00',
    ])
    random.pick<(o: Order) => void>([
      (o) => void (o.order_uid = id),
      (o) => void (o.payment.transaction = id),
      (o) => void (o.track_number = id),
      (o) => void ((o.items[0] as Order['items'][number]).rid = id),
    ])(copy)
    return json(copy)
  },
  control_characters: (random, order) => {
    // PostgreSQL jsonb cannot store \u0000 or a lone surrogate: a schema that let them through would turn
    // one message into a batch that can never commit. JSON.stringify writes both as \u escapes.
    const copy = structuredClone(order)
    const bad = random.pick(['nul\u0000byte', '\u0000', 'lone \ud800 high', 'lone \udfff low', 'reversed \udc00\ud800 pair'])
    random.pick<(o: Order) => void>([
      (o) => void (o.delivery.name = bad),
      (o) => void (o.delivery.address = bad),
      (o) => void ((o.items[0] as Order['items'][number]).name = bad),
      (o) => void (o.order_uid = bad),
    ])(copy)
    return json(copy)
  },
  at_size_limit: (_random, order, max) => padTo(order, max),
  over_size_limit: (random, order, max) => padTo(order, max + random.pick([1, 2, 4096])),
} satisfies Record<string, Builder>

export type HostileKind = keyof typeof BUILDERS

export const HOSTILE_KINDS = Object.keys(BUILDERS) as HostileKind[]

/** The message with this index: kinds cycle in HOSTILE_KINDS order, the variant of each kind is drawn from (seed, index). */
export function hostileMessage(seed: number, index: number, options: HostileOptions = {}): HostileMessage {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const kind = HOSTILE_KINDS[index % HOSTILE_KINDS.length] as HostileKind
  const random = seededRandom(seed, index, 0x6a5)
  // Built from a real order so that each message is wrong in one way only.
  const payload = BUILDERS[kind](random, generateOrder(seed, index), maxMessageBytes)
  return { kind, payload, expectedReason: expectedReason(payload, maxMessageBytes) }
}

export function* hostileMessages(count: number, seed: number, options: HostileOptions = {}): Generator<HostileMessage> {
  for (let index = 0; index < count; index++) yield hostileMessage(seed, index, options)
}

/**
 * The gate's answer for a payload that the schema rejects: the checks before the schema, in the gate's order.
 * A UTF-8 byte order mark is removed by the decoder, as TextDecoder does by default.
 */
export function expectedReason(payload: Buffer, maxMessageBytes: number): GateReason {
  if (payload.length === 0) return 'empty'
  if (payload.length > maxMessageBytes) return 'too_large'
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload)
  } catch {
    return 'not_utf8'
  }
  try {
    JSON.parse(text)
  } catch {
    return 'not_json'
  }
  return 'schema'
}

/**
 * The order plus an unknown "padding" field (which no strict schema accepts, whatever its length) filling it to exactly
 * `size` bytes; if the order alone is bigger than that, a JSON string of `size` bytes.
 */
function padTo(order: Order, size: number): Buffer {
  const base = Buffer.byteLength(JSON.stringify({ ...order, padding: '' }))
  if (base > size) return Buffer.from(`"${'x'.repeat(Math.max(0, size - 2))}"`)
  return json({ ...order, padding: 'x'.repeat(size - base) })
}

function randomBytesWithoutBom(random: Random, length: number): Buffer {
  const bytes = random.bytes(length)
  // A leading BOM would be stripped by the decoder, so the gate would see different text than we classify.
  if (bytes[0] === 0xef) bytes[0] = 0xee
  return bytes
}

/** Paths of every field of the order, e.g. ['payment', 'amount'] or ['items', 0, 'rid']. */
function leafPaths(order: Order): (string | number)[][] {
  const paths: (string | number)[][] = []
  for (const [key, value] of Object.entries(order)) {
    paths.push([key])
    if (Array.isArray(value)) for (const field of Object.keys(value[0] ?? {})) paths.push([key, 0, field])
    else if (typeof value === 'object' && value !== null) for (const field of Object.keys(value)) paths.push([key, field])
  }
  return paths
}

function deleteAt(target: unknown, path: (string | number)[]): void {
  const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], target)
  delete (parent as Record<string | number, unknown>)[path[path.length - 1] as string | number]
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value))
