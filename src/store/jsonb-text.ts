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
