import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Cleanup } from '../../test/support/cleanup.js'
import { tempDir } from './temp-dir.js'

const run = promisify(execFile)
const ROOT = new URL('../../', import.meta.url).pathname

export interface ServiceBuild {
  /** The service's process entry, compiled: `node <main>`. */
  main: string
  /** The embedded broker's command line, compiled: `node <brokerCli> --port 0`. */
  brokerCli: string
  /** The directory the service runs in: no .env there, so only the environment the harness passes counts. */
  dir: string
}

/**
 * Compiles the service as `npm run build` does (tsconfig.build.json), but into a temp dir of its own, so the
 * benchmark measures the code as it is now and never writes the dist/ other people run from. node_modules,
 * static/ and sql/ are linked beside it, where the compiled code looks for them.
 *
 * With `ref` (a commit, say HEAD), the sources are that commit's instead of the work tree's (git archive), built
 * the same way with today's node_modules: the "before" of a before-and-after measured in one run.
 */
export async function buildService(cleanup: Cleanup, ref?: string): Promise<ServiceBuild> {
  const dir = await tempDir(cleanup, 'build')
  const sources = ref === undefined ? ROOT : await checkout(dir, ref)
  for (const linked of ['node_modules', 'static', 'sql']) await symlink(join(sources, linked), join(dir, linked), 'dir')
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
  try {
    await run(process.execPath, [tsc, '-p', join(sources, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: sources, maxBuffer: 16 << 20 })
  } catch (error) {
    // tsc still emits JavaScript when types fail (another area's work in progress, say): measure what was
    // emitted, but say so, since that is not the code as it will be committed.
    const output = (error as { stdout?: string }).stdout ?? String(error)
    console.error(`warning: the service build reported type errors; measuring the emitted JavaScript anyway:\n${output.slice(0, 2000)}`)
  }
  const main = join(dir, 'dist/src/main.js')
  const brokerCli = join(dir, 'dist/src/stan-server/cli.js')
  for (const file of [main, brokerCli]) if (!existsSync(file)) throw new Error(`the build did not produce ${file}`)
  return { main, brokerCli, dir }
}

/** The files of commit `ref` in `<dir>/sources`, with the work tree's node_modules linked in. */
async function checkout(dir: string, ref: string): Promise<string> {
  const sources = join(dir, 'sources')
  await mkdir(sources)
  const archive = join(dir, 'sources.tar')
  await run('git', ['archive', '--output', archive, ref], { cwd: ROOT })
  await run('tar', ['-xf', archive, '-C', sources])
  await symlink(join(ROOT, 'node_modules'), join(sources, 'node_modules'), 'dir')
  return sources
}
