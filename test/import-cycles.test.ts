import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * No module imports itself through others, type-only imports included: a circle means a type or a function lives
 * in the wrong file, and it makes the modules' order of evaluation matter.
 */
const root = fileURLToPath(new URL('..', import.meta.url))
const FOLDERS = ['src', 'bench', 'reliability', 'test', 'bin']
const RELATIVE_IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
}

/** './x.js' written in a TypeScript file names './x.ts'. */
function resolve(from: string, specifier: string): string | undefined {
  const path = join(dirname(from), specifier)
  for (const candidate of [path.replace(/\.js$/, '.ts'), path.replace(/\.mjs$/, '.mts'), path]) if (existsSync(candidate)) return candidate
  return undefined
}

function importGraph(): Map<string, string[]> {
  const files = FOLDERS.filter((folder) => existsSync(join(root, folder))).flatMap(sourceFiles)
  return new Map(
    files.map((file) => [
      file,
      [...readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)].flatMap(([, specifier]) => resolve(file, specifier!) ?? []),
    ]),
  )
}

/** The graph's strongly connected components of more than one module, or of one that imports itself (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (node: string) => {
    index.set(node, next)
    low.set(node, next++)
    stack.push(node)
    onStack.add(node)
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to)
        low.set(node, Math.min(low.get(node)!, low.get(to)!))
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!))
    }
    if (low.get(node) !== index.get(node)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.map((file) => relative(root, file)).sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

describe('imports', () => {
  it('When the modules are read, then the checker finds their imports', () => {
    const graph = importGraph()
    expect(graph.get(join(root, 'src/service.ts'))?.length).toBeGreaterThan(5)
  })

  it('When a module imports another, then it is never imported back through any chain, type-only imports included', () => {
    expect(circles(importGraph())).toEqual([])
  })

  it('When two modules import each other, then the checker names them', () => {
    const a = join(root, 'a.ts')
    const b = join(root, 'b.ts')
    expect(circles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts']])
  })
})
