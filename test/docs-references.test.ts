import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { ErrorCode } from '../src/http/errors.js'

/** The code cites documents (`README.md#endpoints`) instead of repeating them: each citation must lead somewhere. */
const root = fileURLToPath(new URL('..', import.meta.url))
const CITATION = /\b([\w./-]+\.md)(?:#([\w-]+))?/g

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')

function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) => anchor(match[1]!)))
}

describe('documents the code cites', () => {
  it('When a source file cites a Markdown file or a section of one, then that file and heading exist', () => {
    const citations = ['src', 'static', 'bin'].flatMap(sourceFiles).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(CITATION)].map(([text, path, section]) => ({ file, text, path: path!, section })),
    )
    expect(citations.length).toBeGreaterThan(0)
    const broken = citations.filter(({ path, section }) => {
      const target = join(root, path)
      return !existsSync(target) || (section !== undefined && !anchorsOf(readFileSync(target, 'utf8')).has(section))
    })
    expect(broken.map(({ file, text }) => `${file.slice(root.length)}: ${text}`)).toEqual([])
  })

  it('When the README names a file or folder of the repository, then it is there', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const named = [...readme.matchAll(/`((?:src|test|bench|reliability|sql|static|bin|deploy|schema|patches|\.ci)\/[\w./-]*)`/g)].map((match) => match[1]!)
    expect(named.length).toBeGreaterThan(20)
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([])
  })

  it('When the README or a page of docs/ links to a file or a section, then it is there', () => {
    const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
    const links = pages.flatMap((page) =>
      [...readFileSync(join(root, page), 'utf8').matchAll(/\]\((?!https?:)([^)#\s]*)(?:#([\w-]+))?\)/g)].map(([text, path, section]) => ({ page, text, path: path!, section })),
    )
    expect(links.length).toBeGreaterThan(20)
    const broken = links.filter(({ page, path, section }) => {
      const target = path === '' ? join(root, page) : join(root, page, '..', path)
      return !existsSync(target) || (section !== undefined && !anchorsOf(readFileSync(target, 'utf8')).has(section))
    })
    expect(broken.map(({ page, text }) => `${page}: ${text}`)).toEqual([])
  })

  it("When the HTTP contract gains an error code, then README's Endpoints section lists it", () => {
    const codes = Object.keys({
      invalid_id: true, not_found: true, invalid_query: true, invalid_body: true, unauthorized: true, forbidden: true, unknown_host: true,
      payload_too_large: true, not_ready: true, truncated: true, internal: true,
    } satisfies Record<ErrorCode, true>)
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const endpoints = readme.slice(readme.indexOf('## Endpoints'), readme.indexOf('\n## ', readme.indexOf('## Endpoints') + 1))
    for (const code of codes) expect(endpoints, code).toContain(`\`${code}\``)
  })
})
