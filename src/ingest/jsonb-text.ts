// Beside the gate, its only caller in the service: the gate prints each accepted order once, as it will be stored.
// It is PostgreSQL's format, but the store never prints it; the store's tests check the stored text against it.

/**
 * A JSON value as PostgreSQL prints jsonb: object keys shortest first, then by their UTF-8 bytes; `": "` and
 * `", "` between parts; strings escaped as JSON.stringify does. The service stores this text and serves it
 * from the cache, so the bytes (and ETag) of an order are the same before and after a restart reads it back
 * with `doc::text`, without asking PostgreSQL to send every document back on insert.
 * Numbers: exact for integers (all the schema allows); other numbers print as JSON.stringify does.
 */
export function jsonbText(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    let text = '['
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ', ') + jsonbText(value[i])
    return `${text}]`
  }
  const keys = Object.keys(value).sort(compareKeys)
  if (keys.length === 0) return '{}'
  let text = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    text += `${i === 0 ? '' : ', '}${JSON.stringify(key)}: ${jsonbText((value as Record<string, unknown>)[key])}`
  }
  return `${text}}`
}

const ASCII = /^[\x00-\x7f]*$/

/** jsonb's key order: by length in bytes, then bytewise. */
function compareKeys(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length - right.length || Buffer.compare(left, right)
}

/** The part of JSON Schema a compiled printer understands; anything else is printed by jsonbText. */
export interface PrintableSchema {
  type?: string
  properties?: Readonly<Record<string, PrintableSchema>>
  items?: PrintableSchema
}

type Print = (value: unknown) => string

/**
 * jsonbText for values already validated against `schema` (objects with exactly their declared properties,
 * arrays, strings, integers), with the key order and the quoted keys worked out once instead of per value:
 * the gate prints every accepted order with it, so this is on the ingest hot path. Parts are joined with `+`
 * into a rope, flattened once at the end: cheaper than pushing to an array and joining it.
 */
export function compileJsonbText(schema: PrintableSchema): (value: unknown) => string {
  const print = compilePrint(schema)
  return (value) => flatten(print(value))
}

/**
 * The text of an order outlives a few young-generation collections (it waits for its batch's commit): left as a
 * rope of hundreds of parts it takes three times the memory, all copied and promoted part by part, which costs
 * more than printing it. A regular expression runs on flat strings only, so V8 flattens the text in place here.
 */
function flatten(text: string): string {
  ANYTHING.test(text)
  return text
}

const ANYTHING = /^/

function compilePrint(schema: PrintableSchema): Print {
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {}
      const fields = Object.keys(properties)
        .sort(compareKeys)
        .map((key, i) => ({ key, prefix: `${i === 0 ? '{' : ', '}${JSON.stringify(key)}: `, print: compilePrint(properties[key]!) }))
      if (fields.length === 0) return () => '{}'
      return (value) => {
        const record = value as Record<string, unknown>
        let text = ''
        for (const field of fields) text += field.prefix + field.print(record[field.key])
        return `${text}}`
      }
    }
    case 'array': {
      const printItem = schema.items === undefined ? jsonbText : compilePrint(schema.items)
      return (value) => {
        const items = value as unknown[]
        if (items.length === 0) return '[]'
        let text = `[${printItem(items[0])}`
        for (let i = 1; i < items.length; i++) text += `, ${printItem(items[i])}`
        return `${text}]`
      }
    }
    case 'string':
      return printString
    case 'integer':
      return (value) => String(value)
    default:
      return jsonbText
  }
}

/** Characters JSON.stringify escapes: quote, backslash, controls, and surrogates (paired ones are left, but rare). */
const NEEDS_ESCAPE = /["\\\x00-\x1f\ud800-\udfff]/

/** JSON.stringify of a string, without its cost for the usual string that needs no escape. */
function printString(value: unknown): string {
  const text = value as string
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`
}
