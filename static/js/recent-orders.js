// The newest orders from GET /orders, each a real link (so it can open in a new tab) that a plain
// click turns into an in-page lookup. GET /orders is an admin route: the list is shown only when the server lists
// them to this browser (the local operator, or the admin token entered); otherwise a note says why, and looking an
// order up by its id works as before.
import { el, clear, setStatus, byId } from './dom.js';
import { orderLink, onOrderLinkClick } from './order-link.js';
import { describeFailure } from './api.js';
import { oneLoadAtATime } from './one-load-at-a-time.js';
import { text, timeElement, fromIso } from './format.js';

/**
 * @param {{ root: HTMLElement, api: ReturnType<typeof import('./api.js').createApi>, onPick: (id: string) => void }} deps
 */
export function createRecentOrders({ root, api, onPick }) {
  const list = byId('recent-list', root);
  const status = byId('recent-status', root);
  const more = /** @type {HTMLButtonElement} */ (byId('recent-more', root));
  const refresh = byId('recent-refresh', root);
  let next = null;
  let currentId = null;
  // Refresh stays enabled during a load: a click then reloads once the load ends.
  const load = oneLoadAtATime(loadPage);

  more.addEventListener('click', () => load(next));
  refresh.addEventListener('click', () => load(null));
  onOrderLinkClick(list, onPick);

  /** @param {string | null} before null starts from the newest order and replaces the list. */
  async function loadPage(before) {
    more.disabled = true;
    setStatus(status, 'loading', 'Loading newest orders…');

    const answer = await api.listOrders(before ?? undefined);
    more.disabled = false;

    if (!answer.ok && (answer.status === 401 || answer.status === 403)) {
      hideList(answer.status);
      return;
    }
    list.hidden = false;
    refresh.hidden = false;
    if (!answer.ok) {
      if (before === null) clear(list);
      more.hidden = before === null || next === null;
      setStatus(status, 'error', describeFailure(answer));
      return;
    }
    const orders = Array.isArray(answer.body?.orders) ? answer.body.orders : [];
    if (before === null) clear(list);
    list.append(...orders.map(renderItem));
    next = typeof answer.body?.next === 'string' ? answer.body.next : null;
    more.hidden = next === null;
    markCurrent(currentId);
    if (list.childElementCount === 0) setStatus(status, 'empty', 'No orders stored yet.');
    else setStatus(status, 'idle');
  }

  /** Not the admin: nothing of the list stays on screen, and the note says how to get it. */
  function hideList(httpStatus) {
    clear(list);
    list.hidden = true;
    more.hidden = true;
    refresh.hidden = true;
    next = null;
    setStatus(status, 'forbidden', httpStatus === 401
      ? 'The newest orders are listed for the admin only: enter the admin token in the Dead letters view.'
      : 'The newest orders are listed only to the operator on this machine (the server has no admin token).');
  }

  /** Highlights the order on screen, if it is in the list. */
  function markCurrent(id) {
    currentId = id;
    for (const link of list.querySelectorAll('a[data-order-id]')) {
      if (link.dataset.orderId === id) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
  }

  return { load: () => load(null), markCurrent };
}

function renderItem(order) {
  const uid = typeof order?.order_uid === 'string' ? order.order_uid : '';
  return el('li', { 'data-testid': 'recent-item' },
    orderLink(uid, { 'data-testid': 'recent-link' }, text(uid)),
    el('span', { class: 'sub' }, 'created ', timeElement(fromIso(order?.date_created), order?.date_created, 'recent-date')),
  );
}
