import { readFileSync } from 'node:fs'

/** test/fixtures/model.json as it is: the sample order exactly as the task gives it. */
export const sampleText = readFileSync(new URL('../fixtures/model.json', import.meta.url), 'utf8')

/** A fresh copy of the sample order (test/fixtures/model.json), free to change. */
export function sampleOrder(): Record<string, any> {
  return JSON.parse(sampleText) as Record<string, any>
}

/** The sample order under another order_uid, with an optional change, as JSON text (as a publisher sends it). */
export function orderJson(uid: string, change: (doc: Record<string, any>) => void = () => {}): string {
  const doc = sampleOrder()
  doc.order_uid = uid
  change(doc)
  return JSON.stringify(doc)
}
