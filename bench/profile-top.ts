/**
 * Where a service process spent its CPU: reads a V8 CPU profile (written by `npm run bench -- --cpu-prof`, or any
 * `node --cpu-prof`) and prints the functions and the files with the largest self time, as shares of the busy
 * samples (idle excluded).
 *   node --import tsx bench/profile-top.ts <file.cpuprofile> [--top 25]
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

interface Profile {
  nodes: ProfileNode[]
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
const file = positionals[0]
if (file === undefined) throw new Error('usage: profile-top.ts <file.cpuprofile> [--top N]')
const top = Number(values.top)
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let busy = 0
let idle = 0
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0
  if (hits === 0) continue
  const { functionName, url, lineNumber } = node.callFrame
  if (functionName === '(idle)') {
    idle += hits
    continue
  }
  busy += hits
  const where = shorten(url)
  const name = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim()
  byFunction.set(name, (byFunction.get(name) ?? 0) + hits)
  const fileKey = where || functionName
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits)
}

console.log(`${file}: ${busy} busy samples, ${((100 * idle) / (busy + idle)).toFixed(1)}% idle`)
print('self time by function', byFunction)
print('self time by file', byFile)

function print(title: string, counts: Map<string, number>): void {
  console.log(`\n${title} (share of busy samples)`)
  for (const [name, hits] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * hits) / busy).toFixed(1).padStart(5)}%  ${name}`)
  }
}

/** file:///tmp/order-bench-build-x/dist/src/http/app.js → dist/src/http/app.js; node_modules paths from the package on. */
function shorten(url: string): string {
  const modules = url.lastIndexOf('node_modules/')
  if (modules !== -1) return url.slice(modules + 'node_modules/'.length)
  const dist = url.indexOf('/dist/')
  if (dist !== -1) return url.slice(dist + 1)
  return url.replace(/^file:\/\//, '')
}
