import { afterAll, beforeAll, beforeEach } from 'vitest'
import { startTestDatabase, type TestDatabase } from './postgres.js'

/**
 * A part the tests of a file (or of a describe block) share: `start` runs in beforeAll, `stop` in afterAll. What
 * is returned stands for the started part, so it is declared once where the tests read it (`const db = …`);
 * reading it before beforeAll has run is an error.
 */
export function sharedByTests<T extends object>(start: () => Promise<T>, stop: (part: T) => Promise<unknown>): T {
  let started: T | undefined
  beforeAll(async () => {
    started = await start()
  })
  afterAll(async () => {
    if (started !== undefined) await stop(started)
  })
  const part = (): T => {
    if (started === undefined) throw new Error("read before the tests' beforeAll started it")
    return started
  }
  // Reads and spreads ({ ...part }) go to the started part; a method of its class is called on it, while its own
  // function properties (closures, a callable postgres Sql) are given as they are.
  return new Proxy({} as T, {
    get: (_, key) => {
      const started = part()
      const value: unknown = Reflect.get(started, key)
      return typeof value === 'function' && !Object.hasOwn(started, key) ? value.bind(started) : value
    },
    ownKeys: () => Reflect.ownKeys(part()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(part(), key)
      return descriptor && { ...descriptor, configurable: true }
    },
  })
}

/** The test file's database: started before its tests, emptied before each of them, stopped after them. */
export function testDatabaseForFile(): TestDatabase {
  const db = sharedByTests(startTestDatabase, (started) => started.stop())
  beforeEach(() => db.truncate())
  return db
}
