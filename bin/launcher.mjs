// How the bin/ commands find their code: the build (npm run build, and the production image) when it is at least
// as new as every file under src/, else the TypeScript sources through tsx (a fresh clone needs no build).
// A build older than its sources would run yesterday's code.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Imports `src/<folder>/<entry>.ts` or its build `dist/src/<folder>/<entry>.js`, whichever is current. */
export async function importCurrent(folder, entry) {
  const built = join(root, 'dist/src', folder, `${entry}.js`)
  if (isCurrent(built, join(root, 'src'))) return import(pathToFileURL(built).href)
  try {
    await import('tsx/esm')
  } catch {
    process.stderr.write(`${entry}: no current build and no tsx: run \`npm run build\` first\n`)
    process.exit(2)
  }
  return import(pathToFileURL(join(root, 'src', folder, `${entry}.ts`)).href)
}

function isCurrent(built, sources) {
  if (!existsSync(built)) return false
  if (!existsSync(sources)) return true
  const builtAt = statSync(built).mtimeMs
  return readdirSync(sources, { recursive: true, withFileTypes: true }).every(
    (file) => !file.isFile() || statSync(join(file.parentPath ?? file.path, file.name)).mtimeMs <= builtAt,
  )
}
