import { isUtf8 } from 'node:buffer'
import type { Handler } from 'hono'
import type { ReplayDeadLetter } from '../../ingest/replay.js'
import type { DeadLetter, DeadLetterStore } from '../../store/dead-letters.js'
import { ApiError } from '../errors.js'
import type { AppEnv } from '../node-request.js'
import { parsePageQuery, parseRowId } from '../validation.js'

export type { ReplayDeadLetter }

/** GET /dead-letters?limit=&before= : newest first, without payloads. */
export function deadLettersRoute(deadLetters: Pick<DeadLetterStore, 'list'>): Handler<AppEnv> {
  return async (c) => {
    const { limit, before } = parsePageQuery(c.req.url, c.req.query())
    const rows = await deadLetters.list({ limit, before })
    const last = rows.at(-1)
    return c.json({ dead_letters: rows, next: rows.length === limit && last !== undefined ? last.id : null })
  }
}

/** GET /dead-letters/:id : one dead letter with its payload, as text when it is UTF-8 and base64 otherwise. */
export function deadLetterRoute(deadLetters: Pick<DeadLetterStore, 'get'>): Handler<AppEnv> {
  return async (c) => {
    const letter = await deadLetters.get(parseRowId(c.req.param('id') ?? ''))
    if (letter === undefined) throw new ApiError(404, 'not_found', 'No dead letter has this id')
    return c.json(withPayload(letter))
  }
}

/** POST /dead-letters/:id/replay : 200 with the outcome, 404 unknown, 409 when the stored payload was cut. */
export function replayRoute(replayDeadLetter: ReplayDeadLetter): Handler<AppEnv> {
  return async (c) => {
    const result = await replayDeadLetter(parseRowId(c.req.param('id') ?? ''))
    switch (result.outcome) {
      case 'not_found':
        throw new ApiError(404, 'not_found', 'No dead letter has this id')
      case 'truncated':
        throw new ApiError(409, 'truncated', 'The stored payload was truncated at the size bound, so it cannot be replayed')
      default:
        return c.json(result)
    }
  }
}

function withPayload({ payload, truncated, ...summary }: DeadLetter) {
  const text = isUtf8(payload)
  return {
    ...summary,
    payload: { encoding: text ? 'utf8' : 'base64', data: payload.toString(text ? 'utf8' : 'base64'), truncated },
  }
}
