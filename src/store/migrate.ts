import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Sql } from './db.js'

/** The repository's sql/ folder, found from this file both in src/ (tsx, vitest) and in dist/src/ (built). */
export const defaultMigrationsDir = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../sql/' : '../../sql/', import.meta.url))

// Any fixed number works: it only has to be the same for every instance of this service.
export const MIGRATION_LOCK = 0x6f72646572 // "order"

const FILE_NAME = /^(\d{3})_[a-z0-9_]+\.sql$/

/**
 * Applies sql/NNN_name.sql files in order, each once, recorded in schema_migrations.
 * All run in one transaction under an advisory lock, so instances starting together apply them once.
 */
export async function migrate(sql: Sql, dir: string = defaultMigrationsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => FILE_NAME.test(name)).sort()
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`create table if not exists schema_migrations (
      version text primary key,
      applied_at timestamptz not null default now()
    )`
    const done = new Set((await tx<{ version: string }[]>`select version from schema_migrations`).map((row) => row.version))
    const applied: string[] = []
    for (const file of files) {
      if (done.has(file)) continue
      await tx.unsafe(await readFile(`${dir}/${file}`, 'utf8'))
      await tx`insert into schema_migrations (version) values (${file})`
      applied.push(file)
    }
    return applied
  })
}
