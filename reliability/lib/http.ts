import { Agent, request } from 'node:http'

export type HttpResult = { status: number; body: Buffer } | { status: 0; error: string }

export interface HttpGetOptions {
  /** GET unless said; a POST is sent without a body. */
  method?: 'GET' | 'POST'
  agent?: Agent
  headers?: Record<string, string>
  timeoutMs?: number
}

/**
 * GET with the path sent exactly as given: fetch() would normalise `..` and re-encode, which is what the
 * hostile requests must avoid. Never rejects: a failure is a result with status 0.
 */
export function httpGet(port: number, path: string, options: HttpGetOptions = {}): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false, headers: options.headers ?? {}, timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        res.on('error', (error) => resolve({ status: 0, error: error.message }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (error) => resolve({ status: 0, error: error.message }))
    req.end()
  })
}
