/**
 * Every answer the route tests get, held to the OpenAPI document (src/http/openapi.ts): the operation and status
 * must be in it, the content type one it names, and a JSON body must match its schema (ajv, JSON Schema 2020-12 as
 * OpenAPI 3.1 uses). harness.ts puts every request through here: app.request/app.fetch and send().
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { openApiDocument } from '../../src/http/openapi.js'

interface Media {
  schema?: object
}
interface Answer {
  content?: Record<string, Media>
}
interface Operation {
  responses: Record<string, Answer>
}
interface Document {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, object> }
}

const document = openApiDocument() as Document
const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats.default(ajv)
ajv.addSchema({ $id: 'openapi', components: document.components })

/** Each templated path as a pattern; literal paths first, so /dead-letters/redrive is not /dead-letters/{id}. */
const PATHS = Object.keys(document.paths)
  .sort((a, b) => Number(a.includes('{')) - Number(b.includes('{')))
  .map((path) => ({ path, pattern: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`) }))

const validators = new Map<object, ValidateFunction>()

function validatorOf(schema: object): ValidateFunction {
  let validate = validators.get(schema)
  if (validate === undefined) {
    // Refer to the document's components from a schema compiled on its own.
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')
    validate = ajv.compile(JSON.parse(text) as object)
    validators.set(schema, validate)
  }
  return validate
}

const errorSchema = { $ref: '#/components/schemas/Error' }

/**
 * Throws unless the answer is one the document describes. A path the document does not name (a static file, a path
 * with no route) must be a non-JSON file or a JSON error in the contract's shape.
 */
export function checkAnswer(method: string, url: string, status: number, contentType: string | undefined, body: string): void {
  const path = new URL(url, 'http://localhost').pathname
  const where = `${method} ${path} → ${status}`
  const media = contentType?.split(';')[0]?.trim()
  const hasBody = method !== 'HEAD' && body !== ''
  const matched = PATHS.find(({ pattern }) => pattern.test(path))
  const operation = matched === undefined ? undefined : document.paths[matched.path]?.[method === 'HEAD' ? 'get' : method.toLowerCase()]
  if (operation === undefined) {
    if (media === 'application/json' && hasBody) validateJson(where, errorSchema, body)
    return
  }
  const answer = operation.responses[String(status)]
  if (answer === undefined) throw new Error(`${where}: the OpenAPI document lists no such answer`)
  if (!hasBody) return
  const described = answer.content
  if (described === undefined || media === undefined || described[media] === undefined) {
    throw new Error(`${where}: content type ${contentType} is not one the OpenAPI document names (${Object.keys(described ?? {}).join(', ')})`)
  }
  const schema = described[media].schema
  if (schema !== undefined) validateJson(where, schema, body)
}

function validateJson(where: string, schema: object, body: string): void {
  const validate = validatorOf(schema)
  if (!validate(JSON.parse(body))) {
    throw new Error(`${where}: the body does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${body.slice(0, 500)}`)
  }
}

/** The app's fetch (app.request goes through it too, and so does @hono/node-server), checking each answer. */
export function checkingFetch<F extends (request: Request, ...rest: never[]) => Response | Promise<Response>>(fetch: F): F {
  return (async (request: Request, ...rest: never[]) => {
    const response = await fetch(request, ...rest)
    checkAnswer(request.method, request.url, response.status, response.headers.get('content-type') ?? undefined, await response.clone().text())
    return response
  }) as F
}
