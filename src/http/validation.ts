import * as v from 'valibot'
import { isRowId, ROW_ID_RULE } from '../store/row-id.js'
import { ApiError } from './errors.js'

/** Query strings longer than this are refused before parsing: nothing legitimate needs more. */
export const MAX_QUERY_CHARS = 512

/** A keyset cursor or row id: the store's one rule (src/store/row-id.ts). */
export const RowId = v.pipe(v.string(), v.check(isRowId, `must be ${ROW_ID_RULE}`))

/** `?limit=&before=`; unknown parameters are ignored. */
export const PageQuery = v.object({
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100'), v.transform(Number), v.minValue(1, 'must be from 1 to 100'), v.maxValue(100, 'must be from 1 to 100')),
    '20',
  ),
  before: v.optional(RowId),
})

export type PageQuery = v.InferOutput<typeof PageQuery>

/** Parses the page parameters of a list route, or throws 400 invalid_query naming the problems. */
export function parsePageQuery(url: string, query: Record<string, string>): PageQuery {
  const start = url.indexOf('?')
  if (start !== -1 && url.length - start - 1 > MAX_QUERY_CHARS) {
    throw new ApiError(400, 'invalid_query', `The query string may be at most ${MAX_QUERY_CHARS} characters`)
  }
  const result = v.safeParse(PageQuery, query)
  if (!result.success) {
    throw new ApiError(400, 'invalid_query', result.issues.map((issue) => `${v.getDotPath(issue) ?? 'query'} ${issue.message}`).join('; '))
  }
  return result.output
}

/** A dead letter's id from the path, or throws 400 invalid_id. */
export function parseRowId(id: string): string {
  const result = v.safeParse(RowId, id)
  if (!result.success) throw new ApiError(400, 'invalid_id', `The id ${result.issues[0].message}`)
  return result.output
}
