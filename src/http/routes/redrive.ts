import type { Context, Handler } from 'hono'
import * as v from 'valibot'
import { countsOf, SelectionInput, type RedriveRunner } from '../../ingest/redrive.js'
import type { RedriveState } from '../../store/dead-letter-redrives.js'
import { ApiError } from '../errors.js'
import type { AppEnv } from '../node-request.js'
import { parseRowId } from '../validation.js'

/** What the routes use of the service's re-drives (src/ingest/redrive.ts, createRedriveRunner). */
export type Redrives = Pick<RedriveRunner, 'dryRun' | 'start' | 'state'>

export const REDRIVE_PATH = '/dead-letters/redrive'

/**
 * POST /dead-letters/redrive with `{reason?, channel?, from?, to?, limit?, dry_run?}`. A dry run answers 200 with
 * what a re-drive would do now; otherwise 202: the re-drive (or the running one of the same selection) goes on in
 * the background, and GET /dead-letters/redrive/:id (the Location) says how far it is.
 */
export function redriveRoute(redrives: Redrives): Handler<AppEnv> {
  return async (c) => {
    const { dry_run: dryRun = false, ...fields } = await jsonObject(c)
    if (typeof dryRun !== 'boolean') throw new ApiError(400, 'invalid_body', 'dry_run must be true or false')
    const parsed = v.safeParse(SelectionInput, fields)
    if (!parsed.success) {
      throw new ApiError(400, 'invalid_body', parsed.issues.map((issue) => `${v.getDotPath(issue) ?? 'body'} ${issue.message}`).join('; '))
    }
    const selection = parsed.output
    if (dryRun) {
      const { selected, counts } = await redrives.dryRun(selection)
      return c.json({ dry_run: true, selection, selected, ...counts })
    }
    const state = await redrives.start(selection)
    c.header('location', `${REDRIVE_PATH}/${state.id}`)
    return c.json({ redrive: redriveJson(state) }, 202)
  }
}

/** GET /dead-letters/redrive/:id : how far a re-drive is, 404 unknown. */
export function redriveStateRoute(redrives: Pick<Redrives, 'state'>): Handler<AppEnv> {
  return async (c) => {
    const state = await redrives.state(parseRowId(c.req.param('id') ?? ''))
    if (state === undefined) throw new ApiError(404, 'not_found', 'No re-drive has this id')
    return c.json({ redrive: redriveJson(state) })
  }
}

function redriveJson({ outcomes, ...state }: RedriveState) {
  return { ...state, finished: state.finished_at !== null, ...countsOf(outcomes) }
}

/** The body as a JSON object; an empty body is `{}`: every dead letter still dead. */
async function jsonObject(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new ApiError(400, 'invalid_body', 'The body must be JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'invalid_body', 'The body must be a JSON object')
  return body as Record<string, unknown>
}
