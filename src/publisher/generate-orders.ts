import type { Order } from '../ingest/order-schema.js'
import { mix32, seededRandom, type Random } from './seeded-random.js'

/** Orders are typed from the schema they must pass (src/ingest/order-schema.ts), never copied by hand. */
export type { Order }
export type OrderItem = Order['items'][number]

const HEX = '0123456789abcdef'
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const MAX_INDEX = 0xffffffff

/** People with a Latin spelling (used for the e-mail) and the name as written in their locale. */
const PEOPLE = [
  { latin: 'test testov', en: 'Test Testov', ru: 'Тест Тестов' },
  { latin: 'ivan petrov', en: 'Ivan Petrov', ru: 'Иван Петров' },
  { latin: 'maria ivanova', en: 'Maria Ivanova', ru: 'Мария Иванова' },
  { latin: 'olga smirnova', en: 'Olga Smirnova', ru: 'Ольга Смирнова' },
  { latin: 'dmitry volkov', en: 'Dmitry Volkov', ru: 'Дмитрий Волков' },
  { latin: 'anna kuznetsova', en: 'Anna Kuznetsova', ru: 'Анна Кузнецова' },
  { latin: 'sergey orlov', en: 'Sergey Orlov', ru: 'Сергей Орлов' },
  { latin: 'noa levi', en: 'Noa Levi', ru: 'Ноа Леви' },
] as const

const PLACES = [
  { city: 'Kiryat Mozkin', region: 'Kraiot', street: 'Ploshad Mira', phone: '+972', en: true },
  { city: 'Haifa', region: 'Haifa District', street: 'Herzl St', phone: '+972', en: true },
  { city: 'Berlin', region: 'Berlin', street: 'Torstrasse', phone: '+49', en: true },
  { city: 'Москва', region: 'Московская область', street: 'ул. Тверская', phone: '+7', en: false },
  { city: 'Санкт-Петербург', region: 'Ленинградская область', street: 'Невский проспект', phone: '+7', en: false },
  { city: 'Казань', region: 'Татарстан', street: 'ул. Баумана', phone: '+7', en: false },
] as const

const PRODUCTS = [
  { name: 'Mascaras', brand: 'Vivienne Sabo', sizes: ['0'] },
  { name: 'Lipstick', brand: 'Maybelline', sizes: ['0'] },
  { name: 'T-shirt', brand: 'Befree', sizes: ['S', 'M', 'L', 'XL'] },
  { name: 'Sneakers', brand: 'Nike', sizes: ['39', '40', '41', '42', '43', '44'] },
  { name: 'Jeans', brand: "Levi's", sizes: ['28', '30', '32', '34'] },
  { name: 'Phone case', brand: 'Spigen', sizes: ['0'] },
  { name: 'Backpack', brand: 'Xiaomi', sizes: ['0'] },
  { name: 'Hoodie', brand: 'Gloria Jeans', sizes: ['S', 'M', 'L'] },
] as const

const SALES = [0, 0, 0, 10, 15, 20, 25, 30, 50] as const
const DELIVERY_COSTS = [0, 500, 1000, 1500, 2000] as const
const BANKS = ['alpha', 'sber', 'tinkoff', 'vtb', 'hapoalim'] as const
const DELIVERY_SERVICES = ['meest', 'cdek', 'boxberry', 'dhl'] as const
const EMAIL_DOMAINS = ['gmail.com', 'mail.ru', 'yandex.ru', 'example.org'] as const
const FIRST_DATE_MS = Date.UTC(2021, 10, 26, 6, 22, 19)

/**
 * The order with this index in the stream generated from `seed`: the same (seed, index) always gives the same order,
 * and order_uid is unique per (seed, index) (see `orderUid`). Money adds up as the service expects:
 * total_price = floor(price * (100 - sale) / 100), goods_total = sum of total_price, amount = goods_total + delivery_cost.
 */
export function generateOrder(seed: number, index: number): Order {
  if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) throw new RangeError(`index must be an integer from 0 to ${MAX_INDEX}`)
  const random = seededRandom(seed, index)
  const uid = orderUid(seed, index)
  const trackNumber = `WBILM${random.chars(UPPER_ALNUM, 9)}`
  const russian = random.next() < 0.5
  const place = random.pick(PLACES.filter((candidate) => candidate.en !== russian))
  const person = random.pick(PEOPLE)
  // Dates grow with the index (a few seconds apart), so "newest first" matches publishing order.
  const createdMs = FIRST_DATE_MS + index * 7_000 + random.int(0, 6_999)
  const items = Array.from({ length: random.int(1, 3) }, (_, itemIndex) => generateItem(random, trackNumber, uid, itemIndex))
  const goodsTotal = items.reduce((sum, item) => sum + item.total_price, 0)
  const deliveryCost = random.pick(DELIVERY_COSTS)

  return {
    order_uid: uid,
    track_number: trackNumber,
    entry: 'WBIL',
    delivery: {
      name: russian ? person.ru : person.en,
      phone: `${place.phone}${random.chars('0123456789', 10)}`,
      zip: random.chars('0123456789', random.int(6, 7)),
      city: place.city,
      address: `${place.street} ${random.int(1, 120)}`,
      region: place.region,
      email: `${person.latin.replace(' ', '.')}${random.int(1, 999)}@${random.pick(EMAIL_DOMAINS)}`,
    },
    payment: {
      transaction: uid,
      request_id: random.next() < 0.8 ? '' : random.chars(HEX, 16),
      currency: russian ? 'RUB' : random.pick(['USD', 'EUR', 'ILS']),
      provider: 'wbpay',
      amount: goodsTotal + deliveryCost,
      payment_dt: Math.floor(createdMs / 1000) - random.int(1, 600),
      bank: random.pick(BANKS),
      delivery_cost: deliveryCost,
      goods_total: goodsTotal,
      custom_fee: 0,
    },
    items,
    locale: russian ? 'ru' : 'en',
    internal_signature: '',
    customer_id: `${person.latin.split(' ')[0]}${random.int(1, 99_999)}`,
    delivery_service: random.pick(DELIVERY_SERVICES),
    shardkey: String(random.int(0, 9)),
    sm_id: random.int(1, 999),
    date_created: new Date(createdMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    oof_shard: String(random.int(1, 2)),
  }
}

/** `count` orders from `seed`, generated lazily (a million orders need not be held in memory). */
export function* generateOrders(count: number, seed: number): Generator<Order> {
  for (let index = 0; index < count; index++) yield generateOrder(seed, index)
}

/**
 * 16 hex digits: 8 from the seed and 8 from a keyed bijection of the index,
 * so no two indexes of one seed can share an id, while ids still look random.
 */
export function orderUid(seed: number, index: number): string {
  const key = mix32(seed, 0x0bde4)
  let x = (index ^ key) >>> 0
  // Each step (xor-shift, multiply by an odd constant) is invertible on 32 bits, so the whole is a permutation.
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d) >>> 0
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b) >>> 0
  x ^= x >>> 16
  return hex8(mix32(seed, 0x5eed)) + hex8(x)
}

function generateItem(random: Random, trackNumber: string, uid: string, itemIndex: number): OrderItem {
  const product = random.pick(PRODUCTS)
  const price = random.int(50, 20_000)
  const sale = random.pick(SALES)
  return {
    chrt_id: random.int(1_000_000, 9_999_999),
    track_number: trackNumber,
    price,
    rid: `${uid}${random.chars(HEX, 4)}i${itemIndex}`,
    name: product.name,
    sale,
    size: random.pick(product.sizes),
    total_price: Math.floor((price * (100 - sale)) / 100),
    nm_id: random.int(1_000_000, 9_999_999),
    brand: product.brand,
    status: random.pick([202, 202, 202, 200, 201]),
  }
}

const hex8 = (value: number): string => (value >>> 0).toString(16).padStart(8, '0')
