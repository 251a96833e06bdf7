import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runProcess, spawnProcess } from '../../src/child-process.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main } from '../../src/ingest/redrive-cli.js'
import { createDeadLetterStore, type NewDeadLetter } from '../../src/store/dead-letters.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { orderJson } from './support.js'

const db = testDatabaseForFile()

const bin = fileURLToPath(new URL('../../bin/redrive', import.meta.url))

/** Streams that keep what is written; `tty` makes stderr a terminal of 100 columns. */
function io(tty = false) {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      env: { DATABASE_URL: db.url },
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: (text: string) => err.push(text), isTTY: tty, columns: 100 },
    },
  }
}

async function seed(letters: { uid: string; valid?: boolean; reason?: NewDeadLetter['reason'] }[]) {
  let seq = 0
  await createDeadLetterStore(db.sql, { maxPayloadBytes: 64 * 1024 }).insertMany(
    letters.map(({ uid, valid = true, reason = 'schema' }) => ({
      channel: 'orders',
      brokerSeq: ++seq,
      reason,
      errors: [],
      orderUid: uid,
      payload: Buffer.from(orderJson(uid, valid ? undefined : (d) => (d.items = []))),
    })),
  )
}

const orderCount = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from orders`)[0]!.n

describe('bin/redrive', () => {
  it('When asked for a dry run, then it prints what would happen, writes nothing and exits 0', async () => {
    await seed([{ uid: 'd1' }, { uid: 'd2' }, { uid: 'd3', valid: false }])
    const run = io()
    expect(await main(['--reason', 'schema', '--dry-run'], run.io)).toBe(EXIT_OK)
    expect(run.out.join('')).toBe('dry run, nothing written: 3 dead letters (reason schema)\nwould be stored 2, duplicate 0, rejected 1 (schema 1), truncated 0\n')
    expect(await orderCount()).toBe(0)
  })

  it('When every letter is stored, then it prints the summary and exits 0; on a terminal it draws a bar and clears it', async () => {
    await seed(Array.from({ length: 12 }, (_, i) => ({ uid: `ok${i}` })))
    const run = io(true)
    expect(await main(['--batch', '5'], run.io)).toBe(EXIT_OK)
    expect(run.out.join('')).toBe(
      're-drive 1: every dead letter still dead\n' +
        'this run: stored 12, duplicate 0, rejected 0, truncated 0\n' +
        're-drive 1: 12/12 done, finished; stored 12, duplicate 0, rejected 0, truncated 0\n',
    )
    const drawn = run.err.join('')
    expect(drawn).toMatch(/\r\[#+\] 100% 12\/12 done; this run stored 12/)
    expect(drawn.endsWith('\r\x1b[K')).toBe(true)
    expect(await orderCount()).toBe(12)
  })

  it('When a letter is still rejected, then the summary says why and it exits 1', async () => {
    await seed([{ uid: 'f1' }, { uid: 'f2', valid: false }])
    const run = io()
    expect(await main(['--limit', '2'], run.io)).toBe(EXIT_FAILED)
    expect(run.out.join('')).toContain('this run: stored 1, duplicate 0, rejected 1 (schema 1), truncated 0\n')
  })

  it('When the arguments or the environment are wrong, then it says so, touches nothing and exits 2', async () => {
    const cases = [['--reason', 'bogus'], ['--limit', 'ten'], ['--batch', '0'], ['--frm', '2026-01-01'], ['--from', '2026-02-01', '--to', '2026-01-01']]
    for (const args of cases) {
      const run = io()
      expect(await main(args, run.io), args.join(' ')).toBe(EXIT_USAGE)
      expect(run.err.join('')).toMatch(/^bin\/redrive: .+\n\nUsage: bin\/redrive/)
    }
    const noDatabase = io()
    expect(await main([], { ...noDatabase.io, env: {} })).toBe(EXIT_USAGE)
    expect(noDatabase.err.join('')).toBe('bin/redrive: DATABASE_URL is not set: the database of the service\n')
    expect(await db.sql`select 1 from dead_letter_redrives`).toHaveLength(0)
  })

  it('When the process is killed midway and started again, then the second run finishes the set and nothing is stored twice', async () => {
    const total = 4000
    await seed(Array.from({ length: total }, (_, i) => ({ uid: `kill${i}` })))
    const env = { PATH: process.env.PATH, DATABASE_URL: db.url }

    // Killed (SIGKILL: no clean-up of any kind) once its progress shows committed batches.
    const first = spawnProcess('node', [bin, '--batch', '4'], { env })
    await first.line((line) => Number(/^\d+% (\d+)\/\d+ done/.exec(line)?.[1] ?? 0) > 0, 30_000)
    expect((await first.stop('SIGKILL', 0)).signal).toBe('SIGKILL')
    const doneBefore = (await db.sql<{ n: number }[]>`select count(*)::int as n from dead_letter_redrive_letters where outcome is not null`)[0]!.n
    expect(doneBefore).toBeGreaterThan(0)
    expect(doneBefore).toBeLessThan(total)
    expect(await orderCount()).toBe(doneBefore)

    const { code, output: out } = await runProcess(['node', bin, '--batch', '100'], { env }, 30_000)
    expect(code).toBe(EXIT_OK)
    expect(out).toContain('re-drive 1 (joined, already running): every dead letter still dead\n')
    expect(out).toContain(`this run: stored ${total - doneBefore}, duplicate 0,`)
    expect(out).toContain(`re-drive 1: ${total}/${total} done, finished; stored ${total}, duplicate 0,`)
    expect(await orderCount()).toBe(total)
  }, 60_000)
})
