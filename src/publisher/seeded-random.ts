/**
 * A small deterministic PRNG (mulberry32) so generated messages are reproducible from a seed.
 * Not for anything secret: it only has to be fast, stable across Node versions and well spread.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T
  /** A string of `length` characters drawn from `alphabet`. */
  chars(alphabet: string, length: number): string
  /** `length` random bytes. */
  bytes(length: number): Buffer
}

/** Mixes any number of 32-bit inputs into one well-spread 32-bit state (so seed and index can be combined). */
export function mix32(...inputs: number[]): number {
  let h = 0x9e3779b9
  for (const input of inputs) {
    h = Math.imul(h ^ (input >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

export function seededRandom(...seed: number[]): Random {
  let state = mix32(...seed)
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[int(0, items.length - 1)] as T
    },
    chars: (alphabet, length) => {
      let out = ''
      for (let i = 0; i < length; i++) out += alphabet[int(0, alphabet.length - 1)]
      return out
    },
    bytes: (length) => {
      const out = Buffer.allocUnsafe(length)
      for (let i = 0; i < length; i++) out[i] = int(0, 255)
      return out
    },
  }
}
