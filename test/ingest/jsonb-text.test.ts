import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateOrder } from '../../src/publisher/generate-orders.js'
import { orderSchema } from '../../src/ingest/order-schema.js'
import { compileJsonbText, jsonbText } from '../../src/ingest/jsonb-text.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

let db: TestDatabase
beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(() => db?.stop())

/** What PostgreSQL itself prints for the value, parsed from ordinary JSON text. */
const printed = async (value: unknown) => (await db.sql<{ t: string }[]>`select (${JSON.stringify(value)}::text::jsonb)::text as t`)[0]!.t

describe('jsonb text form', () => {
  it('Should print generated orders exactly as PostgreSQL prints them', async () => {
    for (let i = 0; i < 50; i++) {
      const order = generateOrder(3, i)
      expect(jsonbText(order)).toBe(await printed(order))
    }
  })

  it('Should print orders the same with the printer compiled from the schema', () => {
    const print = compileJsonbText(orderSchema)
    for (let i = 0; i < 200; i++) {
      const order = generateOrder(11, i)
      expect(print(order)).toBe(jsonbText(order))
    }
  })

  it('Should print strings that need escaping the same with the compiled printer as PostgreSQL does', async () => {
    const print = compileJsonbText(orderSchema)
    const awkward = ['say "hi"', 'back\\slash', 'tab\there\nline', '\u0001\u001f\u007f', 'ключ 漢字 😀', '']
    for (const [i, text] of awkward.entries()) {
      const order = generateOrder(5, i)
      order.delivery.name = text
      order.items[0]!.brand = text
      expect(print(order)).toBe(await printed(order))
    }
  })

  it('Should match PostgreSQL for awkward strings, keys and nesting', async () => {
    const awkward = {
      'ключ': 'значение',
      'é': 1,
      e: [],
      '': {},
      'a"b\\c': 'tab\there\nnew "quoted" \\ slash / \u0001 \u001f \u007f',
      emoji: '😀 mixed 漢字',
      nested: { z: [1, -2, 9007199254740991, true, false, null, [{}]], aa: 0 },
    }
    expect(jsonbText(awkward)).toBe(await printed(awkward))
  })

  it('Should match PostgreSQL for arbitrary JSON with integer numbers', async () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'grapheme' }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), tie('value'), { maxKeys: 4 }),
      ),
    })).value
    await fc.assert(
      fc.asyncProperty(json, async (value) => {
        expect(jsonbText(value)).toBe(await printed(value))
      }),
      { numRuns: 150 },
    )
  })
})
