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

type Print = (value: unknown, out: string[]) => void

/**
 * jsonbText for values already validated against `schema` (objects with exactly their declared properties,
 * arrays, strings, integers), with the key order and the quoted keys worked out once instead of per value:
 * the gate prints every accepted order with it, so this is on the ingest hot path.
 */
export function compileJsonbText(schema: PrintableSchema): (value: unknown) => string {
  const print = compilePrint(schema)
  return (value) => {
    const out: string[] = []
    print(value, out)
    return out.join('')
  }
}

function compilePrint(schema: PrintableSchema): Print {
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {}
      const fields = Object.keys(properties)
        .sort(compareKeys)
        .map((key, i) => ({ key, prefix: `${i === 0 ? '{' : ', '}${JSON.stringify(key)}: `, print: compilePrint(properties[key]!) }))
      if (fields.length === 0) return (_value, out) => void out.push('{}')
      return (value, out) => {
        const record = value as Record<string, unknown>
        for (const field of fields) {
          out.push(field.prefix)
          field.print(record[field.key], out)
        }
        out.push('}')
      }
    }
    case 'array': {
      const printItem = schema.items === undefined ? printAny : compilePrint(schema.items)
      return (value, out) => {
        const items = value as unknown[]
        if (items.length === 0) return void out.push('[]')
        out.push('[')
        for (let i = 0; i < items.length; i++) {
          if (i > 0) out.push(', ')
          printItem(items[i], out)
        }
        out.push(']')
      }
    }
    case 'string':
    case 'integer':
      return (value, out) => void out.push(JSON.stringify(value))
    default:
      return printAny
  }
}

const printAny: Print = (value, out) => void out.push(jsonbText(value))
