// Lays one order out for a person: header facts, delivery and payment cards, items, totals, raw JSON.
// Values come from the service and may hold anything (even markup); they only ever become text nodes.
import { el } from './dom.js';
import { text, money, percent, timeElement, fromIso, fromUnixSeconds } from './format.js';

/** @param {any} order the parsed body of GET /order/:id */
export function renderOrder(order) {
  const delivery = asObject(order.delivery);
  const payment = asObject(order.payment);
  const items = Array.isArray(order.items) ? order.items : [];
  const currency = payment.currency;

  return el('article', { class: 'order', 'aria-labelledby': 'order-title', 'data-testid': 'order' },
    renderHeader(order),
    el('div', { class: 'cards' },
      renderDelivery(delivery),
      renderPayment(payment),
    ),
    renderItems(items, currency),
    renderTotals(items, payment),
    renderRawJson(order),
  );
}

function renderHeader(order) {
  return el('header', { class: 'order-header' },
    el('h2', { id: 'order-title' },
      el('span', { class: 'label' }, 'Order '),
      el('span', { class: 'order-uid', 'data-testid': 'order-uid' }, text(order.order_uid)),
    ),
    facts('facts facts-wide', [
      ['Track number', text(order.track_number), 'track-number'],
      ['Created', timeElement(fromIso(order.date_created), order.date_created, 'date-created')],
      ['Customer', text(order.customer_id), 'customer-id'],
      ['Delivery service', text(order.delivery_service), 'delivery-service'],
      ['Locale', text(order.locale), 'locale'],
      ['Entry', text(order.entry), 'entry'],
      ['Shard key', text(order.shardkey), 'shardkey'],
      ['SM id', text(order.sm_id), 'sm-id'],
      ['OOF shard', text(order.oof_shard), 'oof-shard'],
      ['Internal signature', text(order.internal_signature), 'internal-signature'],
    ]),
  );
}

function renderDelivery(delivery) {
  return card('Delivery', 'delivery-title', 'delivery-card', facts('facts', [
    ['Name', text(delivery.name), 'delivery-name'],
    ['Phone', text(delivery.phone), 'delivery-phone'],
    ['Email', text(delivery.email), 'delivery-email'],
    ['Address', text(delivery.address), 'delivery-address'],
    ['City', text(delivery.city), 'delivery-city'],
    ['Region', text(delivery.region), 'delivery-region'],
    ['Zip', text(delivery.zip), 'delivery-zip'],
  ]));
}

function renderPayment(payment) {
  const currency = payment.currency;
  return card('Payment', 'payment-title', 'payment-card', facts('facts', [
    ['Amount', money(payment.amount, currency), 'payment-amount'],
    ['Paid at', timeElement(fromUnixSeconds(payment.payment_dt), payment.payment_dt, 'payment-dt')],
    ['Goods', money(payment.goods_total, currency), 'payment-goods-total'],
    ['Delivery cost', money(payment.delivery_cost, currency), 'payment-delivery-cost'],
    ['Custom fee', money(payment.custom_fee, currency), 'payment-custom-fee'],
    ['Currency', text(currency), 'payment-currency'],
    ['Provider', text(payment.provider), 'payment-provider'],
    ['Bank', text(payment.bank), 'payment-bank'],
    ['Transaction', text(payment.transaction), 'payment-transaction'],
    ['Request id', text(payment.request_id), 'payment-request-id'],
  ]));
}

function renderItems(items, currency) {
  const head = ['Name', 'Brand', 'Size', 'Price', 'Sale', 'Total', 'Status'];
  const numeric = new Set(['Price', 'Sale', 'Total', 'Status']);
  const rows = items.map((raw) => {
    const item = asObject(raw);
    return el('tr', { 'data-testid': 'item-row' },
      el('td', { 'data-testid': 'item-name' },
        el('span', { class: 'item-name' }, text(item.name)),
        el('span', { class: 'sub' }, `nm ${text(item.nm_id)} · chrt ${text(item.chrt_id)}`),
      ),
      el('td', { 'data-testid': 'item-brand' }, text(item.brand)),
      el('td', { 'data-testid': 'item-size' }, text(item.size)),
      el('td', { class: 'num', 'data-testid': 'item-price' }, money(item.price, currency)),
      el('td', { class: 'num', 'data-testid': 'item-sale' }, percent(item.sale)),
      el('td', { class: 'num', 'data-testid': 'item-total' }, money(item.total_price, currency)),
      el('td', { class: 'num', 'data-testid': 'item-status' }, text(item.status)),
    );
  });

  const table = el('table', { class: 'items', 'data-testid': 'items-table' },
    el('caption', { class: 'visually-hidden' }, 'Items of this order'),
    el('thead', {}, el('tr', {}, head.map((name) => el('th', { scope: 'col', class: numeric.has(name) ? 'num' : null }, name)))),
    el('tbody', {}, rows.length > 0
      ? rows
      : el('tr', {}, el('td', { colspan: head.length, class: 'empty' }, 'This order has no items.'))),
  );

  // The wrapper scrolls sideways on narrow screens; tabindex lets keyboard users scroll it too.
  return el('section', { class: 'block', 'aria-labelledby': 'items-title' },
    el('h3', { id: 'items-title' }, `Items (${items.length})`),
    el('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-labelledby': 'items-title' }, table),
  );
}

function renderTotals(items, payment) {
  const currency = payment.currency;
  const prices = items.map((item) => asObject(item).total_price);
  const itemsSum = prices.every((price) => typeof price === 'number')
    ? money(prices.reduce((sum, price) => sum + price, 0), currency)
    : '—';
  return el('section', { class: 'block totals', 'aria-labelledby': 'totals-title' },
    el('h3', { id: 'totals-title' }, 'Totals'),
    facts('facts totals-list', [
      ['Items', itemsSum, 'totals-items'],
      ['Goods total', money(payment.goods_total, currency), 'totals-goods'],
      ['Delivery', money(payment.delivery_cost, currency), 'totals-delivery'],
      ['Custom fee', money(payment.custom_fee, currency), 'totals-custom-fee'],
      ['Amount', money(payment.amount, currency), 'totals-amount'],
    ]),
  );
}

function renderRawJson(order) {
  const json = JSON.stringify(order, null, 2);
  const pre = el('pre', { class: 'raw-json', id: 'raw-json', tabindex: 0, 'data-testid': 'raw-json' }, json);
  const copyStatus = el('span', { class: 'copy-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'copy-status' });
  const copyButton = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'copy-json' }, 'Copy JSON');
  copyButton.addEventListener('click', async () => {
    const copied = await copyText(json, pre);
    copyStatus.textContent = copied ? 'Copied.' : 'Could not copy: the text is selected, press Ctrl+C (⌘C).';
  });

  return el('details', { class: 'block raw', 'data-testid': 'raw-json-details' },
    el('summary', { 'data-testid': 'raw-json-toggle' }, 'Raw JSON'),
    el('div', { class: 'raw-actions' }, copyButton, copyStatus),
    pre,
  );
}

/** Clipboard API first; without it (plain http on another host) select the text so the user can copy it. */
async function copyText(value, pre) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch {
    // Permission refused: fall through to selecting the text.
  }
  const selection = window.getSelection();
  if (selection) {
    const range = document.createRange();
    range.selectNodeContents(pre);
    selection.removeAllRanges();
    selection.addRange(range);
  }
  return false;
}

/** A titled card; the heading's id labels it (ids are the page's own, test ids the tests'). */
function card(title, headingId, testid, body) {
  return el('section', { class: 'card', 'aria-labelledby': headingId, 'data-testid': testid },
    el('h3', { id: headingId }, title),
    body,
  );
}

/** @param {Array<[string, string | Node, string?]>} rows label, value, test id of the value */
function facts(className, rows) {
  return el('dl', { class: className },
    rows.map(([label, value, testid]) => el('div', { class: 'fact' },
      el('dt', {}, label),
      el('dd', { 'data-testid': testid }, value),
    )),
  );
}

function asObject(value) {
  return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
}
