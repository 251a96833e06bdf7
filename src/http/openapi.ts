import { toJsonSchema } from '@valibot/to-json-schema'
import type { Handler } from 'hono'
import * as v from 'valibot'
import { API, API_VERSION, ErrorBody, ORDER_ROUTE, type ApiAnswer, type ApiRoute } from './api.js'
import type { AppEnv } from './node-request.js'

export const OPENAPI_PATH = '/openapi.json'

type JsonSchema = Record<string, unknown>

/**
 * valibot to JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client sends it (before transforms); `check`
 * actions (a date that parses, `to` after `from`) have no JSON Schema form and are left to the service's answer.
 */
function jsonSchema(schema: v.GenericSchema): JsonSchema {
  const { $schema: _, ...converted } = toJsonSchema(schema, { target: 'draft-2020-12', typeMode: 'input', ignoreActions: ['check'] })
  return converted as JsonSchema
}

/** A draft-07 document (the order's) as a 2020-12 schema: its keywords here mean the same in both. */
function embedded({ $schema: _, $id: _id, ...schema }: Record<string, unknown>): JsonSchema {
  return schema
}

const ERROR_REF = { $ref: '#/components/schemas/Error' }

function answerObject(answer: ApiAnswer): object {
  const headers =
    answer.headers === undefined ? {} : { headers: Object.fromEntries(answer.headers.map((name) => [name, { schema: { type: 'string' } }])) }
  if (answer.json !== undefined) {
    const schema = answer.json === ErrorBody ? ERROR_REF : 'jsonSchema' in answer.json ? embedded(answer.json.jsonSchema as JsonSchema) : jsonSchema(answer.json)
    return { description: answer.description, ...headers, content: { 'application/json': { schema } } }
  }
  if (answer.mediaType !== undefined) return { description: answer.description, ...headers, content: { [answer.mediaType]: {} } }
  return { description: answer.description, ...headers }
}

function operation(route: ApiRoute): object {
  const params = Object.entries(route.params ?? {}).map(([name, schema]) => ({
    name,
    in: 'path',
    required: true,
    schema: 'pattern' in schema && typeof schema.pattern === 'string' ? { type: 'string', pattern: schema.pattern } : jsonSchema(schema as v.GenericSchema),
  }))
  const query = Object.entries(route.query?.entries ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: false,
    schema: jsonSchema(schema),
  }))
  const parameters = [...params, ...query]
  return {
    summary: route.summary,
    // Admin routes answer 401 without the token when ADMIN_TOKEN is set; without it, local operators need none.
    ...(401 in route.answers ? { security: [{ adminToken: [] }, {}] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined ? {} : { requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(route.body) } } } }),
    responses: Object.fromEntries(Object.entries(route.answers).map(([status, answer]) => [status, answerObject(answer)])),
  }
}

/** `/dead-letters/:id` as OpenAPI writes it: `/dead-letters/{id}`. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}')

/** The OpenAPI 3.1 document of every route (api.ts), built once at start-up; docs/openapi.json is a copy of it. */
export function openApiDocument(): object {
  const paths: Record<string, Record<string, object>> = {}
  for (const route of [ORDER_ROUTE, ...Object.values(API)] as ApiRoute[]) {
    paths[openApiPath(route.path)] = { ...paths[openApiPath(route.path)], [route.method.toLowerCase()]: operation(route) }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'order-service',
      version: API_VERSION,
      description:
        'Orders from the broker, served by id. Errors are `{"error":{"code","message"}}`. Admin routes need `Authorization: Bearer <ADMIN_TOKEN>` when ADMIN_TOKEN is set, and answer local operators only otherwise (README.md#endpoints).',
    },
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorBody) },
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
    },
  }
}

/** The document as served, and as docs/openapi.json holds it. */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`
}

/** GET /openapi.json : the document, text built once. */
export function openApiRoute(text: string): Handler<AppEnv> {
  return (c) => c.body(text, 200, { 'content-type': 'application/json; charset=utf-8' })
}
