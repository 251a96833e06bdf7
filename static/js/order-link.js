// A link to an order: a real link (`/?id=`, so it can open in a new tab) that a plain click turns into an in-page
// lookup, wherever an order is named (the recent orders, a dead letter, a replay's outcome).
import { el, isPlainClick } from './dom.js';

/** The page's address for an order. @param {string} orderUid */
export function orderHref(orderUid) {
  return `/?id=${encodeURIComponent(orderUid)}`;
}

/**
 * @param {string} orderUid
 * @param {Record<string, string>} attributes
 * @param {...(Node | string)} children
 */
export function orderLink(orderUid, attributes, ...children) {
  return el('a', { href: orderHref(orderUid), 'data-order-id': orderUid, ...attributes }, ...children);
}

/** Calls `onPick` with the order's id when an orderLink inside `container` gets a plain click. */
export function onOrderLinkClick(container, onPick) {
  container.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[data-order-id]') : null;
    if (!link || !isPlainClick(event)) return;
    event.preventDefault();
    onPick(link.dataset.orderId);
  });
}
