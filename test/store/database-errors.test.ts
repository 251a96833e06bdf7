import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyDatabaseError, type DatabaseErrorKind } from '../../src/store/database-errors.js'
import { connectDatabase } from '../../src/store/db.js'
import { restartablePort } from '../support/ports.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

let db: TestDatabase

beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(() => db?.stop())

async function failureOf(query: Promise<unknown>): Promise<unknown> {
  try {
    await query
  } catch (error) {
    return error
  }
  throw new Error('the query did not fail')
}

describe('database errors', () => {
  it('When PostgreSQL refuses a statement, then its data, its configuration or the moment is at fault, by SQLSTATE', async () => {
    const sql = db.sql
    expect(classifyDatabaseError(await failureOf(sql`select 'x'::int`))).toBe('data') // 22P02
    expect(classifyDatabaseError(await failureOf(sql`select ${'\u0000'}::text`))).toBe('data') // 22021
    expect(classifyDatabaseError(await failureOf(sql`select * from no_such_table`))).toBe('refused') // 42P01
    const timedOut = sql.begin(async (tx) => {
      await tx`set local statement_timeout = 10`
      await tx`select pg_sleep(1)`
    })
    expect(classifyDatabaseError(await failureOf(timedOut))).toBe('transient') // 57014
  })

  it('When the server cannot be reached, then the failure is transient', async () => {
    const nowhere = connectDatabase(`postgres://postgres@127.0.0.1:${await restartablePort()}/postgres`, { max: 1 })
    const error = await failureOf(nowhere`select 1`)
    await nowhere.end({ timeout: 1 })
    expect((error as { code?: unknown }).code).toBe('ECONNREFUSED')
    expect(classifyDatabaseError(error)).toBe('transient')
  })

  it('Should classify every SQLSTATE class and driver code it names', () => {
    const cases: [string, DatabaseErrorKind][] = [
      ['08006', 'transient'],
      ['40001', 'transient'],
      ['40P01', 'transient'],
      ['53100', 'transient'],
      ['53300', 'transient'],
      ['55P03', 'transient'],
      ['57014', 'transient'],
      ['57P01', 'transient'],
      ['57P03', 'transient'],
      ['58030', 'transient'],
      ['22P05', 'data'],
      ['23505', 'data'],
      ['54000', 'data'],
      ['57P04', 'refused'],
      ['28P01', 'refused'],
      ['3D000', 'refused'],
      ['42501', 'refused'],
    ]
    for (const [code, kind] of cases) {
      expect([code, classifyDatabaseError(new postgres.PostgresError({ code, message: code } as never))]).toEqual([code, kind])
    }
    const withCode = (code: string) => Object.assign(new Error(code), { code })
    expect(classifyDatabaseError(withCode('CONNECTION_CLOSED'))).toBe('transient')
    expect(classifyDatabaseError(withCode('CONNECT_TIMEOUT'))).toBe('transient')
    expect(classifyDatabaseError(withCode('EAI_AGAIN'))).toBe('transient')
    expect(classifyDatabaseError(withCode('MAX_PARAMETERS_EXCEEDED'))).toBe('refused')
    expect(classifyDatabaseError(withCode('ERR_INVALID_ARG_TYPE'))).toBe('bug')
    expect(classifyDatabaseError(new TypeError('x is undefined'))).toBe('bug')
    expect(classifyDatabaseError('not an error')).toBe('bug')
  })
})
