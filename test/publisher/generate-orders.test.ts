import { existsSync, readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { generateOrder, generateOrders, orderUid, type Order } from '../../src/publisher/generate-orders.js'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default
const schemaPath = new URL('../../schema/model.schema.json', import.meta.url)
const sample = JSON.parse(readFileSync(new URL('../fixtures/model.json', import.meta.url), 'utf8')) as Order
const orders = [...generateOrders(2_000, 42)]

describe('generateOrder', () => {
  it.skipIf(!existsSync(schemaPath))('Should produce orders that schema/model.schema.json accepts', () => {
    const ajv = new Ajv({ allErrors: true, strict: true })
    addFormats(ajv)
    const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')))
    const rejected = orders.filter((order) => !validate(order)).map((order) => ({ order, errors: validate.errors }))
    expect(rejected.slice(0, 1)).toEqual([])
  })

  it('Should follow the field rules of the model', () => {
    const id = /^[A-Za-z0-9_-]{1,64}$/
    for (const order of orders.slice(0, 300)) {
      expect(order.order_uid).toMatch(id)
      expect(order.track_number).toMatch(id)
      expect(order.payment.transaction).toMatch(id)
      expect(order.date_created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
      expect(Number.isNaN(Date.parse(order.date_created))).toBe(false)
      expect(order.delivery.email).toMatch(/^[a-z0-9.]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/)
      expect(order.delivery.phone).toMatch(/^\+?[0-9]{5,20}$/)
      expect(order.payment.currency).toMatch(/^[A-Z]{3}$/)
      expect(['en', 'ru']).toContain(order.locale)
      expect(order.items.length).toBeGreaterThanOrEqual(1)
      expect(order.items.length).toBeLessThanOrEqual(3)
      for (const item of order.items) expect(item.rid).toMatch(id)
      for (const value of leaves(order)) {
        if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(255)
        else expect(Number.isSafeInteger(value) && value >= 0).toBe(true)
      }
    }
  })

  it('Should make the money add up: total_price from price and sale, goods_total and amount from them', () => {
    for (const { payment, items } of orders) {
      for (const item of items) {
        expect(item.sale).toBeGreaterThanOrEqual(0)
        expect(item.sale).toBeLessThanOrEqual(100)
        expect(item.total_price).toBe(Math.floor((item.price * (100 - item.sale)) / 100))
      }
      expect(payment.goods_total).toBe(items.reduce((sum, item) => sum + item.total_price, 0))
      expect(payment.amount).toBe(payment.goods_total + payment.delivery_cost)
    }
  })

  it('Should have exactly the fields of the sample model, in its shape', () => {
    const order = generateOrder(1, 0)
    expect(Object.keys(order).sort()).toEqual(Object.keys(sample).sort())
    expect(Object.keys(order.delivery).sort()).toEqual(Object.keys(sample.delivery).sort())
    expect(Object.keys(order.payment).sort()).toEqual(Object.keys(sample.payment).sort())
    expect(Object.keys(order.items[0] ?? {}).sort()).toEqual(Object.keys(sample.items[0] ?? {}).sort())
  })

  it('Should be about the size of the sample, 1.1 KiB of JSON on average', () => {
    const average = orders.reduce((sum, order) => sum + Buffer.byteLength(JSON.stringify(order)), 0) / orders.length
    expect(average).toBeGreaterThan(900)
    expect(average).toBeLessThan(1_400)
  })

  it('When called twice with the same seed and index, then it returns the same order', () => {
    expect(generateOrder(7, 123)).toEqual(generateOrder(7, 123))
    expect([...generateOrders(3, 42)]).toEqual(orders.slice(0, 3))
  })

  it('When the seed differs, then the orders differ', () => {
    expect(generateOrder(8, 123)).not.toEqual(generateOrder(7, 123))
    expect(generateOrder(8, 123).order_uid).not.toBe(generateOrder(7, 123).order_uid)
  })

  it('Should give every index of a seed its own order_uid', () => {
    expect(new Set(orders.map((order) => order.order_uid)).size).toBe(orders.length)
    // The uid is a bijection of the index, so far-apart indexes cannot collide either.
    const far = [0, 1, 2 ** 16, 2 ** 31, 2 ** 32 - 1].map((index) => orderUid(42, index))
    expect(new Set(far).size).toBe(far.length)
  })

  it('Should refuse an index that is not a whole number from 0 to 2^32 - 1', () => {
    expect(() => generateOrder(1, -1)).toThrow(RangeError)
    expect(() => generateOrder(1, 1.5)).toThrow(RangeError)
    expect(() => generateOrder(1, 2 ** 32)).toThrow(RangeError)
  })
})

function leaves(value: unknown): (string | number)[] {
  if (typeof value === 'string' || typeof value === 'number') return [value]
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(leaves)
  throw new Error(`unexpected value ${String(value)}`)
}
