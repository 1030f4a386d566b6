// A newest-first list read page by page with `next_cursor`: loading, empty, error and "Load more".

import { announce, h, icon, replace, skeletonRows } from "./dom.js";
import { errorText } from "./forms.js";

/**
 * Options: load(cursor) -> {items, next_cursor}; renderItem(item) -> <li>;
 * empty: {title, text}; errorTitle; noun (plural, for announcements); signal;
 * paged: false for a short list without "Load more".
 * Returns {element, reload()}.
 */
export function pagedList({ load, renderItem, empty, errorTitle, noun, signal, label, paged = true }) {
  const area = h("div", { class: "list-area" });
  const footer = h("div", { class: "list-footer" });
  const element = h("div", {}, area, footer);
  let generation = 0;

  async function fetchPage(cursor, list, hadFocus = false) {
    const mine = generation;
    try {
      const page = await load(cursor);
      if (mine !== generation || signal.aborted) return;
      const items = Array.isArray(page?.items) ? page.items : [];
      if (!list && items.length === 0) {
        replace(area, emptyState(empty));
        footer.replaceChildren();
        return;
      }
      const target = list || h("ul", { class: "list", "aria-label": label });
      if (!list) replace(area, target);
      const rows = items.map(renderItem);
      target.append(...rows);
      showFooter(page.next_cursor, target, rows, hadFocus);
      if (list) announce(`${items.length} more ${noun} loaded.`);
    } catch (error) {
      if (mine !== generation || error?.name === "AbortError" || signal.aborted) return;
      if (list) {
        const retry = moreButton(cursor, list, "Try again");
        replace(footer, h("p", { class: "field-error", role: "alert", text: errorText(error) }), retry);
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

  function moreButton(cursor, list, text = "Load more") {
    const button = h("button", { type: "button", class: "btn btn-secondary", text });
    button.addEventListener("click", async () => {
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
    replace(area, skeletonRows(4));
    footer.replaceChildren();
    fetchPage(null, null);
  }

  reload();
  return { element, reload };
}

export function emptyState({ title, text }) {
  return h("div", { class: "empty" }, icon("inbox"), h("strong", { text: title }), text ? h("p", { text }) : null);
}

/** What went wrong, and what to do: a function to try again, or an element (e.g. a link). */
export function errorState(title, error, action) {
  let next = action;
  if (typeof action === "function") {
    next = h("button", { type: "button", class: "btn btn-secondary", text: "Try again" });
    next.addEventListener("click", action);
  }
  return h(
    "div",
    { class: "error-state", role: "alert" },
    h("strong", { text: title }),
    h("p", { text: errorText(error) }),
    next,
  );
}
