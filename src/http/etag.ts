/**
 * True when an If-None-Match header matches the entity tag: `*`, or one of a comma-separated list,
 * compared weakly (a W/ prefix on either side is ignored), as RFC 9110 asks for If-None-Match.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag) return true
  const wanted = opaque(etag)
  for (const candidate of header.split(',')) {
    const tag = candidate.trim()
    if (tag === '*' || opaque(tag) === wanted) return true
  }
  return false
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}
