// The same rule the server applies to GET /order/:id, so obviously bad ids never leave the page.
const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {string} id */
export function isValidOrderId(id) {
  return ORDER_ID.test(id);
}
