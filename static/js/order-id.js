// The same rule the server applies to GET /order/:id, so obviously bad ids never leave the page. A copy (the page
// has no build step): test/http/order-by-id.test.ts holds it to the server's, which comes from the schema.
export const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {string} id */
export function isValidOrderId(id) {
  return ORDER_ID.test(id);
}
