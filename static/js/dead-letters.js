// The dead-letter view: what was rejected and why, the payload on demand, and Replay.
// Admin routes may answer 401 (ask for the token) or 403 (loopback only); both are shown, not thrown.
import { el, clear, setStatus, byId } from './dom.js';
import { orderLink, onOrderLinkClick } from './order-link.js';
import { describeFailure } from './api.js';
import { oneLoadAtATime } from './one-load-at-a-time.js';
import { redriveControl } from './redrive.js';
import { text, bytes, timeElement, fromIso } from './format.js';

const REASONS = {
  not_json: 'the payload is not JSON',
  not_utf8: 'the payload is not valid UTF-8',
  schema: 'the order does not match the schema',
  too_large: 'the payload is too large',
  conflict: 'an order with this id but different content exists',
  empty: 'the payload is empty',
  unstorable: 'the database refused to store it (the batch was split to find it)',
};

const OUTCOMES = {
  stored: 'Stored: the order is now in the database.',
  duplicate: 'Duplicate: this order was already stored.',
  rejected: 'Rejected again',
};

/**
 * @param {{
 *   root: HTMLElement,
 *   api: ReturnType<typeof import('./api.js').createApi>,
 *   tokens: ReturnType<typeof import('./admin-token.js').createTokenStore>,
 *   onPick: (orderId: string) => void,
 *   onTokenChange: () => void,
 * }} deps
 */
export function createDeadLetters({ root, api, tokens, onPick, onTokenChange }) {
  const list = byId('dead-letter-list', root);
  const status = byId('dead-letters-status', root);
  const more = /** @type {HTMLButtonElement} */ (byId('dead-letters-more', root));
  const refresh = byId('dead-letters-refresh', root);
  const forget = byId('token-forget', root);
  const tokenForm = byId('token-form', root);
  const tokenInput = /** @type {HTMLInputElement} */ (byId('admin-token', root));
  const tokenWhy = byId('token-why', root);
  let next = null;
  let loading = false;
  let loaded = false;
  // Refresh stays enabled during a load: a click then reloads once the load ends.
  const load = oneLoadAtATime(loadPage);

  more.addEventListener('click', () => load(next));
  refresh.addEventListener('click', () => load(null));
  forget.addEventListener('click', () => {
    tokens.clear();
    forget.hidden = true;
    setStatus(status, 'idle', 'Admin token forgotten.');
    onTokenChange();
  });
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (token === '') {
      tokenInput.focus();
      return;
    }
    tokens.set(token);
    tokenInput.value = '';
    tokenForm.hidden = true;
    forget.hidden = false;
    load(null);
    onTokenChange();
  });
  onOrderLinkClick(list, onPick);
  forget.hidden = tokens.get() === '';

  /** @param {string | null} before null reloads from the newest dead letter. */
  async function loadPage(before) {
    loading = true;
    more.disabled = true;
    setStatus(status, 'loading', 'Loading dead letters…');
    if (before === null) {
      clear(list);
      more.hidden = true;
    }

    const answer = await api.listDeadLetters(before ?? undefined);
    loading = false;
    loaded = true;
    more.disabled = false;

    if (!answer.ok) {
      more.hidden = before === null || next === null;
      showFailure(answer);
      return;
    }
    const letters = Array.isArray(answer.body?.dead_letters) ? answer.body.dead_letters : [];
    list.append(...letters.map(renderLetter));
    next = typeof answer.body?.next === 'string' || typeof answer.body?.next === 'number' ? String(answer.body.next) : null;
    more.hidden = next === null;
    if (list.childElementCount === 0) setStatus(status, 'empty', 'No dead letters: every message so far was stored.');
    else setStatus(status, 'idle');
  }

  /** 401 brings up the token form; everything else is a sentence in the status line. */
  function showFailure(answer) {
    if (answer.status === 401) askForToken();
    setStatus(status, answer.status === 403 ? 'forbidden' : 'error', describeFailure(answer));
  }

  function askForToken() {
    const hadToken = tokens.get() !== '';
    tokens.clear();
    forget.hidden = true;
    tokenWhy.textContent = hadToken
      ? 'The server did not accept the admin token. Enter it again.'
      : 'The server requires the admin token for dead letters.';
    tokenForm.hidden = false;
    tokenInput.focus();
  }

  function renderLetter(letter) {
    const id = text(letter?.id);
    const errors = Array.isArray(letter?.errors) ? letter.errors : [];
    const orderUid = typeof letter?.order_uid === 'string' && letter.order_uid !== '' ? letter.order_uid : null;
    const outcome = el('div', { class: 'replay-outcome', role: 'status', 'aria-live': 'polite', 'data-testid': 'replay-outcome' });
    const replay = el('button', { type: 'button', 'aria-label': `Replay dead letter #${id}`, 'data-testid': 'replay-button' }, 'Replay');
    replay.addEventListener('click', () => runReplay(letter, replay, outcome));

    const payloadBody = el('div', { class: 'payload-body', 'data-testid': 'dead-letter-payload-state' });
    const details = el('details', { class: 'payload', 'data-testid': 'dead-letter-details' },
      el('summary', { 'data-testid': 'dead-letter-expand' }, 'Full payload'),
      payloadBody);
    details.addEventListener('toggle', () => {
      if (details.open && !details.dataset.loaded) loadPayload(letter, details, payloadBody);
    });

    return el('li', { class: 'dead-letter', 'data-id': id, 'data-testid': 'dead-letter-row' },
      el('div', { class: 'dl-head' },
        el('span', { class: 'badge', title: REASONS[letter?.reason] ?? null, 'data-testid': 'dead-letter-reason' }, text(letter?.reason)),
        el('span', { class: 'dl-why', 'data-testid': 'dead-letter-why' }, REASONS[letter?.reason] ?? ''),
        el('span', { class: 'dl-id' }, `#${id}`),
      ),
      el('dl', { class: 'facts dl-facts' },
        fact('Received', timeElement(fromIso(letter?.received_at), letter?.received_at, 'dead-letter-time')),
        fact('Size', el('span', { 'data-testid': 'dead-letter-size' }, bytes(letter?.payload_size))),
        fact('Channel', `${text(letter?.channel)}${letter?.broker_seq != null ? ` · seq ${text(letter.broker_seq)}` : ''}`),
        fact('Order', orderUid
          ? orderLink(orderUid, { 'data-testid': 'dead-letter-order' }, orderUid)
          : '—'),
        letter?.replayed_at
          ? fact('Last replay', el('span', {}, timeElement(fromIso(letter.replayed_at), letter.replayed_at), ` → ${text(letter.replay_outcome)}`))
          : null,
      ),
      renderErrors(errors, 'dead-letter-errors'),
      el('p', { class: 'preview-label' }, 'Preview'),
      el('pre', { class: 'preview', tabindex: 0, 'data-testid': 'dead-letter-preview' }, text(letter?.preview)),
      details,
      el('div', { class: 'actions' }, replay, outcome),
      redriveControl({ api, reason: text(letter?.reason), onUnauthorized: askForToken }),
    );
  }

  async function loadPayload(letter, details, body) {
    details.dataset.loaded = 'loading';
    setStatus(body, 'loading', 'Loading payload…');
    const answer = await api.getDeadLetter(String(letter.id));
    if (!answer.ok) {
      delete details.dataset.loaded; // closing and opening it again retries
      if (answer.status === 401) askForToken();
      setStatus(body, 'error', describeFailure(answer));
      return;
    }
    details.dataset.loaded = 'yes';
    const shown = payloadText(answer.body?.payload ?? {});
    setStatus(body, 'loaded',
      el('p', { class: 'hint' }, shown.note),
      el('pre', { class: 'payload-data', tabindex: 0, 'data-testid': 'dead-letter-payload' }, shown.text),
    );
  }

  async function runReplay(letter, button, outcome) {
    button.disabled = true;
    outcome.dataset.outcome = 'pending';
    outcome.replaceChildren('Replaying…');
    const answer = await api.replayDeadLetter(String(letter.id));
    button.disabled = false;
    outcome.replaceChildren();

    if (!answer.ok) {
      outcome.dataset.outcome = 'failed';
      if (answer.status === 401) askForToken();
      const sentence = answer.status === 404 ? 'This dead letter no longer exists.'
        : answer.status === 409 ? `Cannot replay: ${answer.message}`
        : describeFailure(answer);
      outcome.append(sentence);
      return;
    }
    const result = answer.body ?? {};
    const kind = typeof result.outcome === 'string' ? result.outcome : 'unknown';
    outcome.dataset.outcome = kind;
    outcome.append(OUTCOMES[kind] ?? `Outcome: ${text(result.outcome)}`);
    if (kind === 'rejected' && result.reason) outcome.append(`: ${text(result.reason)}.`);
    const orderUid = typeof letter.order_uid === 'string' && letter.order_uid !== '' ? letter.order_uid : null;
    if ((kind === 'stored' || kind === 'duplicate') && orderUid) {
      outcome.append(' ', orderLink(orderUid, {}, 'Look it up'));
    }
    if (Array.isArray(result.errors) && result.errors.length > 0) {
      outcome.append(renderErrors(result.errors, 'replay-errors'));
    }
  }

  return {
    /** First visit loads the list; later visits keep what is there (Refresh reloads). */
    show() {
      if (!loaded && !loading) load(null);
    },
  };
}

function renderErrors(errors, testid) {
  if (errors.length === 0) return el('p', { class: 'hint', 'data-testid': testid }, 'No validation errors recorded.');
  return el('ul', { class: 'errors', 'data-testid': testid },
    errors.map((error) => el('li', {},
      el('code', {}, text(error?.path === '' ? '/' : error?.path)),
      ' ',
      text(error?.message),
    )),
  );
}

function fact(label, value) {
  return el('div', { class: 'fact' }, el('dt', {}, label), el('dd', {}, value));
}

/** JSON payloads are pretty-printed; anything else is shown as it was stored. */
function payloadText(payload) {
  const truncated = payload.truncated === true ? ' Truncated: only the start was kept.' : '';
  if (payload.encoding === 'base64') {
    return { note: `Not valid UTF-8, shown as base64.${truncated}`, text: text(payload.data) };
  }
  const data = typeof payload.data === 'string' ? payload.data : text(payload.data);
  try {
    return { note: `JSON, pretty-printed.${truncated}`, text: JSON.stringify(JSON.parse(data), null, 2) };
  } catch {
    return { note: `Text as received.${truncated}`, text: data === '' ? '(empty)' : data };
  }
}
