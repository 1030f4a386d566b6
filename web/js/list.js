// A newest-first list read page by page with `next_cursor`: loading, empty, error and "Load more".

import { isTransient } from "./api.js";
import { announce, h, icon, replace, skeletonRows } from "./dom.js";
import { errorText } from "./forms.js";

const SCROLL_SAVE_MS = 200;
const RETRY_MIN_S = 3;
const RETRY_MAX_S = 60;

/**
 * Options: load(cursor) -> {items, next_cursor}; renderItem(item) -> <li>;
 * empty: {title, text}; errorTitle; noun (plural, for announcements); signal;
 * paged: false for a short list without "Load more"; remember: a key under which this
 * history entry keeps how many rows were loaded and where the page was scrolled, so that
 * Back after "Load more" (and a row opened) comes back to the same place.
 * Returns {element, reload()}.
 */
export function pagedList({ load, renderItem, empty, errorTitle, noun, signal, label, paged = true, remember = null }) {
  const area = h("div", { class: "list-area" });
  const footer = h("div", { class: "list-footer" });
  const element = h("div", {}, area, footer);
  let generation = 0;
  let shown = 0;
  // what to come back to: read before anything on this screen can overwrite it
  let restoring = remember ? savedPlace(remember) : null;

  function save(extra = {}) {
    if (!remember || restoring || !element.isConnected || signal.aborted) return;
    savePlace(remember, { count: shown, scrollY: Math.round(window.scrollY), ...extra });
  }

  async function fetchPage(cursor, list, hadFocus = false) {
    const mine = generation;
    try {
      const page = await load(cursor);
      if (mine !== generation || signal.aborted) return;
      const items = Array.isArray(page?.items) ? page.items : [];
      if (!list && items.length === 0) {
        restoring = null;
        replace(area, emptyState(empty));
        footer.replaceChildren();
        return;
      }
      const target = list || h("ul", { class: "list", "aria-label": label });
      if (!list) replace(area, target);
      const rows = items.map(renderItem);
      target.append(...rows);
      shown += items.length;
      if (restoring && shown < restoring.count && page.next_cursor && paged) {
        await fetchPage(page.next_cursor, target); // coming back: the rows seen before, at once
        return;
      }
      showFooter(page.next_cursor, target, rows, hadFocus);
      if (restoring) {
        comeBack(restoring);
        restoring = null;
      } else if (list) {
        announce(`${items.length} more ${noun} loaded.`);
      }
      save();
    } catch (error) {
      if (mine !== generation || error?.name === "AbortError" || signal.aborted) return;
      restoring = null;
      if (list) {
        const retry = moreButton(cursor, list, "Try again");
        replace(
          footer,
          h("p", { class: "field-error", role: "alert", text: errorText(error) }),
          retryNote(error, retry, () => retry.click()),
          retry,
        );
        if (hadFocus) retry.focus();
      } else {
        replace(
          area,
          errorState(errorTitle, error, () => reload()),
        );
        footer.replaceChildren();
      }
    }
  }

  function comeBack(place) {
    window.scrollTo(0, place.scrollY || 0);
    const row = place.href ? area.querySelector(`a[href="${CSS.escape(place.href)}"]`) : null;
    row?.focus({ preventScroll: true });
  }

  function moreButton(cursor, list, text = "Load more") {
    const button = h("button", { type: "button", class: "btn btn-secondary", text });
    button.addEventListener("click", async () => {
      if (button.disabled) return;
      const hadFocus = document.activeElement === button;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), "Loading…");
      await fetchPage(cursor, list, hadFocus);
    });
    return button;
  }

  function showFooter(nextCursor, list, rows, hadFocus) {
    if (nextCursor && paged) {
      const button = moreButton(nextCursor, list);
      replace(footer, button);
      if (hadFocus) button.focus();
    } else {
      footer.replaceChildren();
      // the button that had focus is gone: continue from the first new row
      if (hadFocus && rows[0]) rows[0].querySelector("a, button, [tabindex]")?.focus();
    }
  }

  function reload() {
    generation += 1;
    shown = 0;
    replace(area, skeletonRows(4));
    footer.replaceChildren();
    fetchPage(null, null);
  }

  if (remember) {
    let timer = null;
    const onScroll = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => save(), SCROLL_SAVE_MS);
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    signal.addEventListener("abort", () => window.removeEventListener("scroll", onScroll), { once: true });
    // the row opened is where the keyboard goes on from when coming back
    area.addEventListener("click", (event) => {
      const link = event.target.closest?.("a[href]");
      if (link) save({ href: link.getAttribute("href") });
    });
  }

  reload();
  return { element, reload };
}

function savedPlace(key) {
  const place = window.history.state?.[key];
  return place && Number.isInteger(place.count) && place.count > 0 ? place : null;
}

function savePlace(key, place) {
  window.history.replaceState({ ...(window.history.state || {}), [key]: place }, "");
}

/**
 * Run `action` again by itself when it is worth it: when the browser is back online, or a
 * while after Tijori had trouble. Returns a line saying so (null for a refusal, which the
 * same request would only get again). Nothing runs once `anchor` has left the page.
 */
export function retryNote(error, anchor, action) {
  if (!isTransient(error)) return null;
  const again = () => {
    if (anchor.isConnected) action();
  };
  // a browser that knows it is offline says when it is back; else Tijori itself was unreachable
  if (!navigator.onLine) {
    window.addEventListener("online", again, { once: true });
    return h("p", { class: "hint", text: "We will try again when you are back online." });
  }
  const seconds = Math.min(RETRY_MAX_S, Math.max(RETRY_MIN_S, error.retryAfter || 0));
  window.setTimeout(again, seconds * 1000);
  return h("p", { class: "hint", text: `We will try again in ${seconds} seconds.` });
}

export function emptyState({ title, text }) {
  return h("div", { class: "empty" }, icon("inbox"), h("strong", { text: title }), text ? h("p", { text }) : null);
}

/**
 * What went wrong, and what to do: a function to try again (also run by itself when the
 * connection is back, see retryNote), or an element (e.g. a link).
 */
export function errorState(title, error, action) {
  let next = action;
  let note = null;
  if (typeof action === "function") {
    next = h("button", { type: "button", class: "btn btn-secondary", text: "Try again" });
    next.addEventListener("click", action);
    note = retryNote(error, next, action);
  }
  return h(
    "div",
    { class: "error-state", role: "alert" },
    h("strong", { text: title }),
    h("p", { text: errorText(error) }),
    note,
    next,
  );
}
