import fc from 'fast-check'
import { generateOrder } from '../../src/publisher/generate-orders.js'

/** A valid order changed in one way, and which way (for the report). */
export interface Mutant {
  mutation: string
  payload: Buffer
}

type Path = (string | number)[]

/** Every path to a value in the document, the root's children down to the leaves. */
function paths(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return []
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value)
  return entries.flatMap(([key, child]) => [[...prefix, key], ...paths(child, [...prefix, key])])
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  return path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], root) as Record<string | number, unknown>
}

/** Values that tend to break validators and databases: edges of numbers, odd strings, wrong shapes. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -0, -1, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 0.1, 1e-320, '', ' ', '0', 'NaN', '__proto__', '\u0000', '\ud800', '‮', 'x'.repeat(10_000)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double(),
)

/** Mutations of the document: replace, delete, add a key, or change a string or number in place. */
const documentMutation = fc.oneof(
  fc.record({ kind: fc.constant('replace'), pick: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant('delete'), pick: fc.nat(), value: fc.constant(null) }),
  fc.record({ kind: fc.constant('add_key'), pick: fc.nat(), value: fc.tuple(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype')), oddValue) }),
)

/** Mutations of the bytes: truncate, flip a byte, insert bytes. */
const byteMutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip_byte'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert_bytes'), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
)

/**
 * Valid generated orders (seed, index) with one mutation each, or none (so some valid ones are in the mix too).
 * Deterministic for a fast-check seed.
 */
export function mutantArbitrary(seed: number): fc.Arbitrary<Mutant> {
  const mutation = fc.oneof(
    { weight: 6, arbitrary: documentMutation.map((m) => ({ ...m, level: 'document' as const })) },
    { weight: 3, arbitrary: byteMutation.map((m) => ({ ...m, level: 'bytes' as const })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const, level: 'none' as const }) },
  )
  return fc.tuple(fc.integer({ min: 0, max: 1_000_000 }), mutation).map(([index, mutation]): Mutant => {
    const order = generateOrder(seed, index) as unknown
    if (mutation.level === 'bytes') {
      const json = Buffer.from(JSON.stringify(order))
      const at = mutation.at % json.length
      if (mutation.kind === 'truncate') return { mutation: mutation.kind, payload: json.subarray(0, at) }
      if (mutation.kind === 'flip_byte') {
        json[at] = mutation.byte
        return { mutation: mutation.kind, payload: json }
      }
      return { mutation: mutation.kind, payload: Buffer.concat([json.subarray(0, at), mutation.bytes, json.subarray(at)]) }
    }
    if (mutation.level === 'none') return { mutation: 'none', payload: Buffer.from(JSON.stringify(order)) }
    const all = paths(order)
    const path = all[mutation.pick % all.length] as Path
    const parent = parentOf(order, path)
    const key = path[path.length - 1] as string | number
    if (mutation.kind === 'replace') parent[key] = mutation.value
    else if (mutation.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1)
      else delete parent[key]
    } else {
      const [newKey, value] = mutation.value as [string, unknown]
      const target = typeof parent[key] === 'object' && parent[key] !== null && !Array.isArray(parent[key]) ? (parent[key] as Record<string, unknown>) : parent
      // defineProperty: a plain assignment to "__proto__" would set the prototype instead of adding a key.
      Object.defineProperty(target, newKey, { value, enumerable: true, writable: true, configurable: true })
    }
    return { mutation: mutation.kind, payload: Buffer.from(JSON.stringify(order)) }
  })
}
