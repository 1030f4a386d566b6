// Building the page without ever parsing text as HTML: every string becomes a text node.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an element. `attrs` may hold `class`, `text`, `dataset`, `on` (event
 * handlers) and plain attributes; children are nodes or strings (made text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === "htmlFor") element.htmlFor = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** Append nodes or strings (as text) to `parent`, skipping empty values. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace everything inside `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

// Icon paths are constants of this file, never data.
const ICONS = {
  send: "M2.5 20.5 22 12 2.5 3.5 2.5 10l13 2-13 2z",
  history: "M12 3a9 9 0 1 1-8.5 6h2.2A7 7 0 1 0 12 5V3zm-1 4h2v5.4l3.6 2.1-1 1.7L11 13.6zM3 3l4.5 1.2L4.2 7.5z",
  bell: "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z",
  refresh:
    "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.75 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4z",
  back: "M20 11H7.83l5.59-5.59L12 4l-8 8 8 8 1.41-1.41L7.83 13H20z",
  plus: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
  bank: "M12 2 2 7v2h20V7zM4 11v7h3v-7zm6.5 0v7h3v-7zM17 11v7h3v-7zM2 20v2h20v-2z",
  inbox: "M19 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2zm0 12h-4a3 3 0 0 1-6 0H5V5h14z",
  laptop: "M4 5h16a1 1 0 0 1 1 1v10H3V6a1 1 0 0 1 1-1zm1 2v7h14V7zM1 18h22v1a1 1 0 0 1-1 1H2a1 1 0 0 1-1-1z",
  phone: "M8 2h8a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm0 3v13h8V5zm4 14.2a.9.9 0 1 0 0 1.8.9.9 0 0 0 0-1.8z",
};

/** An inline SVG icon, hidden from assistive technology. */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

export function spinner(label) {
  const element = h("span", { class: "spinner" });
  if (label) {
    element.setAttribute("role", "img");
    element.setAttribute("aria-label", label);
  } else {
    element.setAttribute("aria-hidden", "true");
  }
  return element;
}

/** Placeholder rows while a list loads. */
export function skeletonRows(count = 4) {
  const rows = [];
  for (let i = 0; i < count; i += 1) {
    rows.push(
      h(
        "div",
        { class: "skeleton-row", "aria-hidden": "true" },
        h("span", { class: "skeleton dot" }),
        h("span", {}, h("span", { class: "skeleton line" }), h("span", { class: "skeleton line short" })),
        h("span", { class: "skeleton line" }),
      ),
    );
  }
  return h(
    "div",
    { class: "skeletons", role: "status" },
    h("span", { class: "visually-hidden", text: "Loading…" }),
    rows,
  );
}

/** The screen's title: focused when the screen opens, so screen readers start there. */
export function heading(text, level = "h1") {
  return h(level, { tabindex: "-1", text });
}

/** Tell screen reader users about something that changed without moving focus. */
export function announce(message) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // a fresh text node in a later frame is announced even when the words repeat
  window.setTimeout(() => {
    live.textContent = message;
  }, 50);
}

/** The first letters of a name, for avatars. */
export function initials(name) {
  const words = String(name || "?")
    .trim()
    .split(/\s+/)
    .filter((word) => /[\p{L}\p{N}]/u.test(word));
  const letters = words.slice(0, 2).map((word) => Array.from(word.replace(/[^\p{L}\p{N}]/gu, ""))[0] || "");
  return letters.join("").toUpperCase() || "?";
}
