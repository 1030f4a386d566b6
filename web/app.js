// Tijori web client: hash routes, the signed-in chrome and the connection banners.

import { api, apiEvents, endSession, session } from "./js/api.js";
import { renderLogin, renderSignUp } from "./js/auth.js";
import { h, initials } from "./js/dom.js";
import { renderHome } from "./js/home.js";
import { renderLimits } from "./js/limits.js";
import { renderAddMoney, renderTopup, renderWithdraw, renderWithdrawal } from "./js/money.js";
import { renderNotifications } from "./js/notifications.js";
import { renderSecurity } from "./js/security.js";
import { renderSessions } from "./js/sessions.js";
import { renderHistory, renderTransaction } from "./js/transactions.js";
import { renderVerify } from "./js/verify.js";

const ROUTES = {
  login: { render: renderLogin, public: true },
  signup: { render: renderSignUp, public: true },
  home: { render: renderHome },
  verify: { render: renderVerify, tab: "home" },
  history: { render: renderHistory },
  tx: { render: renderTransaction, tab: "history" },
  notifications: { render: renderNotifications },
  security: { render: renderSecurity },
  limits: { render: renderLimits },
  sessions: { render: renderSessions, tab: "security" },
  "add-money": { render: renderAddMoney, tab: "home" },
  topups: { render: renderTopup, tab: "home" },
  withdraw: { render: renderWithdraw, tab: "home" },
  withdrawals: { render: renderWithdrawal, tab: "home" },
};

const state = {
  controller: null,
  user: null, // a promise of the signed-in user, loaded once per session
  notice: null, // a message for the next screen (e.g. "You have logged out.")
  returnTo: null, // where to go after logging in again
  draft: null, // what was typed on the screen a session ended on: {hash, values}
};

// never kept past a log-in: secrets, and fields that are not typed text
const UNKEPT_TYPES = new Set(["password", "hidden", "radio", "checkbox", "file", "submit", "button"]);
const SESSION_ENDED = "Your session has ended. Please log in again.";

/** The text typed into the fields of the screen, by field name. */
function typedValues(root) {
  const values = {};
  for (const input of root.querySelectorAll("input[name], textarea[name]")) {
    if (UNKEPT_TYPES.has(input.type) || /pin|password/i.test(input.name) || !input.value) continue;
    values[input.name] = input.value;
  }
  return values;
}

/**
 * Put back what was typed on this screen before the session ended (into empty fields
 * only), once the person who logged in again is shown to be the one who typed it.
 */
async function restoreDraft(signal) {
  const draft = state.draft;
  if (!draft || draft.hash !== window.location.hash) return;
  state.draft = null;
  const [typedBy, user] = await Promise.all([draft.typedBy, currentUser()]);
  if (signal.aborted || !user || user.id !== typedBy?.id) return;
  for (const [name, value] of Object.entries(draft.values)) {
    for (const input of main.querySelectorAll(`input[name="${CSS.escape(name)}"], textarea[name="${CSS.escape(name)}"]`)) {
      if (input.value || input.readOnly || input.disabled) continue;
      input.value = value;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
}

const main = document.getElementById("main");

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  return { name: parts[0] || "", params: parts.slice(1), query: new URLSearchParams(query) };
}

function navigate(hash, { replace = false } = {}) {
  if (window.location.hash === hash) {
    render();
  } else if (replace) {
    window.location.replace(hash);
  } else {
    window.location.hash = hash;
  }
}

/** The user as the API has it now (after a change such as setting the PIN). */
function freshUser() {
  state.user = null;
  return currentUser();
}

function currentUser() {
  if (!state.user) {
    state.user = api("/api/users/me").catch(() => {
      state.user = null;
      return null;
    });
  }
  return state.user;
}

async function signedIn() {
  const target = state.returnTo && !/^#\/(login|signup)/.test(state.returnTo) ? state.returnTo : "#/home";
  state.returnTo = null;
  state.user = null;
  navigate(target);
}

function logOut(notice, returnTo = null) {
  session.clear();
  showLoggedOut(notice, returnTo);
}

function showLoggedOut(notice, returnTo = null) {
  state.user = null;
  state.notice = notice;
  state.returnTo = returnTo;
  navigate("#/login");
}

/** Header tabs, avatar and log-out button: shown only while signed in. */
function updateChrome(tab, isSignedIn) {
  document.body.classList.toggle("signed-in", isSignedIn);
  document.getElementById("tabs").hidden = !isSignedIn;
  document.getElementById("account").hidden = !isSignedIn;
  for (const link of document.querySelectorAll(".tab")) {
    if (link.dataset.route === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const avatar = document.getElementById("avatar");
  if (!isSignedIn) {
    avatar.textContent = "";
    return;
  }
  currentUser().then((user) => {
    avatar.textContent = user ? initials(user.name) : "";
    avatar.title = user ? user.name : "";
  });
}

function render() {
  const route = parseHash();
  const isSignedIn = session.signedIn;
  const definition = ROUTES[route.name];
  if (!definition) {
    navigate(isSignedIn ? "#/home" : "#/login", { replace: true });
    return;
  }
  if (!definition.public && !isSignedIn) {
    // a session that expired while the tab was away: say so rather than just show log-in
    if (session.ended) {
      session.clear();
      state.notice = SESSION_ENDED;
    }
    state.returnTo = window.location.hash;
    navigate("#/login", { replace: true });
    return;
  }
  if (definition.public && isSignedIn) {
    navigate("#/home", { replace: true });
    return;
  }

  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  updateChrome(definition.tab || route.name, isSignedIn);

  const ctx = {
    params: route.params,
    query: route.query,
    signal: controller.signal,
    navigate,
    signedIn,
    user: currentUser,
    freshUser,
    setNotice: (text) => {
      state.notice = text;
    },
    takeNotice: () => {
      const text = state.notice;
      state.notice = null;
      return text;
    },
  };
  main.replaceChildren();
  let info = {};
  try {
    info = definition.render(main, ctx) || {};
  } catch (error) {
    main.replaceChildren(
      h("p", {
        class: "form-error",
        role: "alert",
        text: "Something went wrong showing this page. Reload to try again.",
      }),
    );
    throw error;
  }
  if (isSignedIn) restoreDraft(controller.signal);
  document.title = info.title ? `${info.title} · Tijori` : "Tijori";
  window.scrollTo(0, 0);
  // focus the new screen's title so keyboard and screen reader users start there
  (main.querySelector("h1") || main).focus();
}

function setupBanners() {
  const offline = document.getElementById("offline-banner");
  const trouble = document.getElementById("trouble-banner");
  const setOffline = (isOffline) => {
    offline.hidden = !isOffline;
    if (isOffline) trouble.hidden = true;
  };
  window.addEventListener("offline", () => setOffline(true));
  window.addEventListener("online", () => setOffline(false));
  apiEvents.addEventListener("offline", () => setOffline(true));
  apiEvents.addEventListener("online", () => setOffline(false));
  apiEvents.addEventListener("trouble", () => {
    trouble.hidden = false;
  });
  apiEvents.addEventListener("recovered", () => {
    trouble.hidden = true;
  });
  setOffline(!navigator.onLine);
}

function start() {
  setupBanners();
  apiEvents.addEventListener("unauthorized", (event) => {
    if (ROUTES[parseHash().name]?.public) return;
    const values = typedValues(main);
    const kept = Object.keys(values).length > 0;
    if (kept) state.draft = { hash: window.location.hash, values, typedBy: state.user || Promise.resolve(null) };
    const notice =
      (event.detail?.code === "session_ended"
        ? "This session was ended, from another device or by a password change. Please log in again."
        : SESSION_ENDED) + (kept ? " What you typed is kept for when you are back." : "");
    logOut(notice, window.location.hash);
  });
  const logoutButton = document.getElementById("logout");
  logoutButton.addEventListener("click", async () => {
    logoutButton.disabled = true;
    await endSession();
    logoutButton.disabled = false;
    showLoggedOut("You have logged out.");
  });
  window.addEventListener("hashchange", render);
  render();
}

start();
