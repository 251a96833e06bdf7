import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createGate } from '../../src/ingest/gate.js'
import type { GateReason, Verdict } from '../../src/ingest/verdict.js'
import { jsonbText } from '../../src/ingest/jsonb-text.js'
import { orderSchemaText } from '../../src/ingest/order-schema.js'
import { sampleOrder as sample, sampleText } from '../support/orders.js'

/** The configured default. */
const MAX = 256 * 1024
const gate = createGate({ maxMessageBytes: MAX })

const bytes = (text: string) => new TextEncoder().encode(text)
/** The sample order with one change, as message bytes. */
const changed = (change: (doc: Record<string, any>) => void) => {
  const doc = sample()
  change(doc)
  return bytes(JSON.stringify(doc))
}
const rejected = (result: Verdict<GateReason>) => {
  if (result.ok) throw new Error(`expected a rejection, got ${result.orderUid}`)
  return result
}

describe('gate: accepted orders', () => {
  it('Should accept the sample order and pass it on in jsonb text form (what is stored and served)', () => {
    const result = gate(bytes(sampleText))
    expect(result).toMatchObject({ ok: true, orderUid: 'b563feb7b2b84b6test', json: jsonbText(sample()) })
    expect(result.ok && JSON.parse(result.json)).toEqual(sample())
  })

  it.each([
    ['a UTF-8 byte order mark before the JSON', new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(sampleText)])],
    ['empty request_id and internal_signature', changed((d) => ((d.payment.request_id = ''), (d.internal_signature = '')))],
    ['non-ASCII text', changed((d) => (d.delivery.name = 'Тест Тестов 🚚'))],
    ['a name of 255 astral characters (510 UTF-16 units)', changed((d) => (d.delivery.name = '🚚'.repeat(255)))],
    ['a paired surrogate written as an escape', bytes(sampleText.replace('"Mascaras"', '"Mascaras \\ud83d\\ude9a"'))],
    ['a date-time with an offset and fraction', changed((d) => (d.date_created = '2021-11-26T06:22:19.123+03:00'))],
    ['100 items', changed((d) => (d.items = Array.from({ length: 100 }, () => d.items[0])))],
    ['maximum money and sale', changed((d) => ((d.payment.amount = 1e12), (d.items[0].sale = 100)))],
  ])('When the order has %s, then it is accepted', (_name, payload) => {
    expect(gate(payload).ok).toBe(true)
  })
})

describe('gate: rejected messages', () => {
  const deep = `{"order_uid":"deep","delivery":${'['.repeat(100_000)}${']'.repeat(100_000)}}`

  it.each([
    ['empty', new Uint8Array(0), 'empty'],
    ['one byte over the limit', bytes(`"${'x'.repeat(MAX - 1)}"`), 'too_large'],
    ['a lone continuation byte', new Uint8Array([0x7b, 0x80, 0x7d]), 'not_utf8'],
    ['a truncated multi-byte sequence', new Uint8Array([0x22, 0xd0]), 'not_utf8'],
    ['an overlong encoding', new Uint8Array([0xc0, 0xaf]), 'not_utf8'],
    ['an encoded surrogate', new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), 'not_utf8'],
    ['Latin-1 text', new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x7d]), 'not_utf8'],
    ['plain text', bytes('hello'), 'not_json'],
    ['half an object', bytes('{"order_uid":'), 'not_json'],
    ['a trailing comma', bytes('{"a":1,}'), 'not_json'],
    ['single quotes', bytes("{'a':1}"), 'not_json'],
    ['NaN', bytes('NaN'), 'not_json'],
    ['two documents', bytes(`${sampleText}${sampleText}`), 'not_json'],
    ['a raw control character in a string', bytes('{"a":"\u0001"}'), 'not_json'],
    ['null', bytes('null'), 'schema'],
    ['a number', bytes('42'), 'schema'],
    ['a string', bytes('"order"'), 'schema'],
    ['an array of orders', bytes(`[${sampleText}]`), 'schema'],
    ['an empty object', bytes('{}'), 'schema'],
    ['deep nesting', bytes(deep), 'schema'],
  ])('When the message is %s, then it is rejected as %s', (_name, payload, reason) => {
    const result = rejected(gate(payload))
    expect(result.reason).toBe(reason)
    expect(result.errors.length).toBeGreaterThan(0)
  })

  it.each<[string, (doc: Record<string, any>) => void, string]>([
    ['a missing field', (d) => delete d.track_number, ''],
    ['a missing nested field', (d) => delete d.payment.bank, '/payment'],
    ['an unknown top-level field', (d) => (d.colour = 'red'), '/colour'],
    ['an unknown delivery field', (d) => (d.delivery.floor = 3), '/delivery/floor'],
    ['an unknown item field', (d) => (d.items[0].colour = 'red'), '/items/0/colour'],
    ['a __proto__ key', (d) => Object.defineProperty(d, '__proto__', { value: { polluted: true }, enumerable: true }), '/__proto__'],
    ['a constructor key', (d) => (d['constructor'] = { prototype: { polluted: true } } as any), '/constructor'],
    ['a number as a string', (d) => (d.payment.amount = '1817'), '/payment/amount'],
    ['a fractional amount', (d) => (d.payment.amount = 1817.5), '/payment/amount'],
    ['a negative price', (d) => (d.items[0].price = -1), '/items/0/price'],
    ['an amount over the cap', (d) => (d.payment.amount = 1e12 + 1), '/payment/amount'],
    ['a sale over 100', (d) => (d.items[0].sale = 101), '/items/0/sale'],
    ['payment_dt in milliseconds', (d) => (d.payment.payment_dt = 1637907727000), '/payment/payment_dt'],
    ['an unsafe chrt_id', (d) => (d.items[0].chrt_id = 2 ** 53), '/items/0/chrt_id'],
    ['a boolean for a number', (d) => (d.sm_id = true), '/sm_id'],
    ['null for an object', (d) => (d.delivery = null), '/delivery'],
    ['an array for an object', (d) => (d.payment = []), '/payment'],
    ['an order_uid with a space', (d) => (d.order_uid = 'a b'), '/order_uid'],
    ['an order_uid of 65 characters', (d) => (d.order_uid = 'a'.repeat(65)), '/order_uid'],
    ['an empty order_uid', (d) => (d.order_uid = ''), '/order_uid'],
    ['a path in the order_uid', (d) => (d.order_uid = '../etc/passwd'), '/order_uid'],
    ['a bad item rid', (d) => (d.items[0].rid = 'x/y'), '/items/0/rid'],
    ['an invalid e-mail', (d) => (d.delivery.email = 'not-an-email'), '/delivery/email'],
    ['an impossible date', (d) => (d.date_created = '2021-13-40T06:22:19Z'), '/date_created'],
    ['a date without time', (d) => (d.date_created = '2021-11-26'), '/date_created'],
    ['a phone with letters', (d) => (d.delivery.phone = '+972abc0000'), '/delivery/phone'],
    ['a lower-case currency', (d) => (d.payment.currency = 'usd'), '/payment/currency'],
    ['no items', (d) => (d.items = []), '/items'],
    ['an item that is a string', (d) => (d.items = ['x']), '/items/0'],
    ['an empty name', (d) => (d.delivery.name = ''), '/delivery/name'],
    ['a name of 256 characters', (d) => (d.delivery.name = 'x'.repeat(256)), '/delivery/name'],
    ['a name of 256 astral characters', (d) => (d.delivery.name = '🚚'.repeat(256)), '/delivery/name'],
  ])('When the order has %s, then it is rejected as schema with the path %j', (_name, change, path) => {
    const result = rejected(gate(changed(change)))
    expect(result.reason).toBe('schema')
    expect(result.errors.map((e) => e.path)).toContain(path)
  })

  it.each([
    ['U+0000', '\\u0000'],
    ['a lone high surrogate', '\\ud800'],
    ['a lone low surrogate', '\\udc00'],
    ['surrogates in the wrong order', '\\udc00\\ud800'],
  ])('When a string holds %s (which jsonb refuses), then it is rejected as schema', (_name, escape) => {
    const result = rejected(gate(bytes(sampleText.replace('"Mascaras"', `"Mas${escape}caras"`))))
    expect(result).toMatchObject({ reason: 'schema', orderUid: 'b563feb7b2b84b6test', errors: [{ path: '/items/0/name' }] })
  })

  it('When 101 items are sent, then it is rejected before each item is checked', () => {
    const result = rejected(gate(changed((d) => (d.items = Array.from({ length: 101 }, () => ({}))))))
    expect(result.errors).toEqual([{ path: '/items', message: 'must NOT have more than 100 items' }])
  })

  it('When a message has very many errors, then the list is capped with a summary', () => {
    const result = rejected(createGate({ maxMessageBytes: MAX, maxErrors: 5 })(changed((d) => (d.items = Array.from({ length: 50 }, () => ({}))))))
    expect(result.errors).toHaveLength(6)
    expect(result.errors[5]!.message).toMatch(/^and \d+ more errors$/)
  })

  it('When the order_uid is recognisable, then a rejection names it, and not otherwise', () => {
    expect(rejected(gate(changed((d) => delete d.locale))).orderUid).toBe('b563feb7b2b84b6test')
    expect(rejected(gate(changed((d) => (d.order_uid = 'no spaces please')))).orderUid).toBeUndefined()
  })

  it('When keys try prototype pollution, then no prototype changes', () => {
    gate(bytes('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })
})

describe('gate: properties', () => {
  const storable = (text: string) => (text as unknown as { isWellFormed(): boolean }).isWellFormed() && !text.includes('\0')
  const reasons = ['empty', 'too_large', 'not_utf8', 'not_json', 'schema']

  /** Whatever the input, a verdict: accepted with the text that was sent, or a reason and storable errors. */
  function checkVerdict(payload: Uint8Array): void {
    const result = gate(payload)
    if (result.ok) {
      const sent = JSON.parse(new TextDecoder().decode(payload)) as { order_uid: unknown }
      expect(JSON.parse(result.json)).toEqual(sent)
      expect(result.orderUid).toBe(sent.order_uid)
    } else {
      expect(reasons).toContain(result.reason)
      expect(result.errors.length).toBeGreaterThan(0)
      for (const error of result.errors) expect(storable(error.path) && storable(error.message)).toBe(true)
    }
  }

  const paths = (value: unknown, prefix: string[] = []): string[][] =>
    typeof value === 'object' && value !== null
      ? [prefix, ...Object.entries(value).flatMap(([key, child]) => paths(child, [...prefix, key]))]
      : [prefix]
  const samplePaths = paths(sample()).filter((path) => path.length > 0)

  it('Should never throw and always give a valid verdict when one value of the order is replaced', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samplePaths), fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' })), (path, value) => {
        const doc = sample()
        let parent: any = doc
        for (const key of path.slice(0, -1)) parent = parent[key]
        parent[path.at(-1)!] = value
        checkVerdict(bytes(JSON.stringify(doc)))
      }),
    )
  })

  it('Should never throw and always give a valid verdict when keys are removed or added', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samplePaths), fc.boolean(), fc.string({ unit: 'binary' }), (path, remove, key) => {
        const doc = sample()
        let parent: any = doc
        for (const step of path.slice(0, -1)) parent = parent[step]
        if (remove) delete parent[path.at(-1)!]
        else if (typeof parent === 'object') parent[key] = 1
        checkVerdict(bytes(JSON.stringify(doc)))
      }),
    )
  })

  it('Should never throw and always give a valid verdict when bytes of the message are changed', () => {
    const original = bytes(sampleText)
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const payload = original.slice()
        for (const [at, byte] of edits) payload[at] = byte
        checkVerdict(payload)
      }),
    )
  })
})

describe('schema file', () => {
  it('Should be the JSON form of the TypeScript schema (regenerate with orderSchemaText() when it changes)', () => {
    expect(readFileSync(new URL('../../schema/model.schema.json', import.meta.url), 'utf8')).toBe(orderSchemaText())
  })
})
