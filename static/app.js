// Entry point: wires the views together and keeps the URL in step with the screen.
//   /?id=<order id>        the lookup view showing that order (linkable, survives reload)
//   /?view=dead-letters    the dead-letter view
import { createApi } from './js/api.js';
import { createTokenStore, sessionStorageOrUndefined } from './js/admin-token.js';
import { createLookup } from './js/lookup.js';
import { createRecentOrders } from './js/recent-orders.js';
import { createDeadLetters } from './js/dead-letters.js';
import { isPlainClick, byId } from './js/dom.js';
import { orderHref } from './js/order-link.js';

const DEAD_LETTERS = 'dead-letters';

function start() {
  const tokens = createTokenStore(sessionStorageOrUndefined());
  const api = createApi({ token: tokens.get });

  const lookupView = byId('lookup-view');
  const deadLettersView = byId('dead-letters-view');
  const tabs = [...document.querySelectorAll('a[data-view]')];

  const recent = createRecentOrders({ root: byId('recent'), api, onPick: (id) => openOrder(id) });
  const lookup = createLookup({
    form: /** @type {HTMLFormElement} */ (byId('lookup-form')),
    input: /** @type {HTMLInputElement} */ (byId('order-id')),
    status: byId('lookup-status'),
    result: byId('order-result'),
    api,
    onShown(id, mode) {
      recent.markCurrent(id);
      if (mode === 'push') writeUrl(id === null ? {} : { id }, 'push');
      syncLookupTab(id);
    },
  });
  // The newest orders are an admin route too: a token entered or forgotten changes what the list may show.
  const deadLetters = createDeadLetters({ root: deadLettersView, api, tokens, onPick: (id) => openOrder(id), onTokenChange: () => recent.load() });

  let view = null;

  function show(next, { focus = false } = {}) {
    if (view !== next) {
      view = next;
      lookupView.hidden = next !== 'lookup';
      deadLettersView.hidden = next !== DEAD_LETTERS;
      for (const tab of tabs) {
        if (tab.dataset.view === next) tab.setAttribute('aria-current', 'page');
        else tab.removeAttribute('aria-current');
      }
      document.title = next === DEAD_LETTERS ? 'Dead letters · order-service' : 'Orders · order-service';
    }
    if (next === DEAD_LETTERS) deadLetters.show();
    // Moving focus to the heading tells screen-reader and keyboard users where they landed.
    if (focus) (next === DEAD_LETTERS ? byId('dead-letters-title') : byId('lookup-title')).focus();
  }

  function openOrder(id) {
    show('lookup');
    lookup.lookUp(id, 'push');
    window.scrollTo({ top: 0 });
  }

  /** Draws whatever the current URL names; used at start and when the browser goes back or forward. */
  function render() {
    const params = new URLSearchParams(window.location.search);
    if (params.get('view') === DEAD_LETTERS) {
      show(DEAD_LETTERS);
      return;
    }
    show('lookup');
    const id = params.get('id');
    if (id === null) lookup.reset();
    else if (id !== lookup.shownId()) lookup.lookUp(id, 'none');
  }

  // The lookup tab leads back to the order last shown, not to an empty page.
  function syncLookupTab(id) {
    const tab = tabs.find((candidate) => candidate.dataset.view === 'lookup');
    if (tab) tab.setAttribute('href', id === null ? '/' : orderHref(id));
  }

  for (const tab of tabs) {
    tab.addEventListener('click', (event) => {
      if (!isPlainClick(event)) return;
      event.preventDefault();
      const next = tab.dataset.view === DEAD_LETTERS ? DEAD_LETTERS : 'lookup';
      if (next === view) {
        show(next, { focus: true });
        return;
      }
      const id = lookup.shownId();
      writeUrl(next === DEAD_LETTERS ? { view: DEAD_LETTERS } : id === null ? {} : { id }, 'push');
      show(next, { focus: true });
    });
  }
  window.addEventListener('popstate', render);

  render();
  recent.load();
}

/** @param {{ id?: string, view?: string }} params */
function writeUrl(params, mode) {
  const search = new URLSearchParams(params).toString();
  const url = `${window.location.pathname}${search ? `?${search}` : ''}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (mode === 'push') window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}

start();
