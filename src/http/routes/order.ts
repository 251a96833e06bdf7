import type { Handler } from 'hono'
import type { OrderAnswer, OrderAnswers } from '../order-answer.js'
import { requestHeader, type AppEnv } from '../node-request.js'

export const ORDER_PATH = '/order/*'
const PREFIX = '/order/'

/**
 * GET /order/:id through Hono: the only handler on its path (Hono then skips middleware composition).
 * The decisions live in order-answer.ts, shared with the node:http fast path (order-listener.ts), which
 * answers most of these requests before Hono sees them; this route serves the rest and app.request().
 * The id is taken from the decoded path, so an encoded slash stays `%2F` and fails the alphabet: 400.
 */
export function orderRoute(answers: OrderAnswers): Handler<AppEnv> {
  return (c) => {
    const answer = answers.answer(c.req.path.slice(PREFIX.length), requestHeader(c, 'if-none-match'))
    return answer instanceof Promise ? answer.then(toResponse) : toResponse(answer)
  }
}

function toResponse({ status, headers, body }: OrderAnswer): Response {
  return new Response(body, { status, headers })
}
