// Builds elements whose content is always text: strings become text nodes, never markup.
// Attributes are set one by one with setAttribute; callers pass only attribute names they wrote.

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attributes]
 * @param {...(Node | string | number | null | undefined | false | Array<any>)} children
 * @returns {HTMLElement}
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Appends children as nodes; anything that is not a Node is shown as text. */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Removes every child, so nothing of a previous state stays on screen. */
export function clear(element) {
  element.replaceChildren();
}

/** Sets a status line: its text and a data-state the CSS (and tests) key on. */
export function setStatus(element, state, ...content) {
  element.dataset.state = state;
  element.replaceChildren();
  append(element, content);
}

/**
 * The element with this id (inside `root`, when given), or an error naming it. The page finds its parts by id,
 * never by data-testid: test ids belong to the tests, which may rename them.
 * @returns {HTMLElement}
 */
export function byId(id, root = document) {
  const element = root.querySelector(`#${CSS.escape(id)}`);
  if (!element) throw new Error(`The page is missing #${id}`);
  return /** @type {HTMLElement} */ (element);
}

/** True for a plain left click that the page may handle itself (not "open in new tab"). */
export function isPlainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}
