// Notifications: the e-mails Tijori sent the user and whether they were delivered.

import { ApiError, api } from "./api.js";
import { h, heading, replace, spinner } from "./dom.js";
import { dateTime } from "./format.js";
import { errorText } from "./forms.js";
import { emptyState, pagedList } from "./list.js";
import { badge } from "./transactions.js";

// the development mailbox is offered only when Tijori runs on this machine, and only once
// the gateway has shown it has one (it answers 404 where there is no local mail server)
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
let mailboxHere = null;

/** Whether this gateway has a development mailbox (asked once per page load). */
export function hasDevMailbox() {
  if (!LOCAL_HOSTS.has(window.location.hostname)) return Promise.resolve(false);
  if (!mailboxHere) {
    mailboxHere = api("/api/dev/mailbox?limit=1", { auth: false }).then(
      () => true,
      (error) => {
        if (!(error instanceof ApiError)) mailboxHere = null; // no answer: ask again next time
        return false;
      },
    );
  }
  return mailboxHere;
}

const DELIVERY = {
  PENDING: "Sending",
  SENT: "Delivered",
  FAILED: "Not delivered",
};

function notificationItem(notification) {
  const delivered = notification.status === "SENT" && notification.sent_at;
  const when = dateTime(delivered ? notification.sent_at : notification.created_at);
  const channel = notification.channel === "EMAIL" ? "E-mail" : String(notification.channel || "");
  const meta = [channel, notification.receiver ? `to ${notification.receiver}` : "", when].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: "notification", dataset: { testid: "notification", status: notification.status } },
    h(
      "div",
      { class: "notification-head" },
      h("h2", { class: "notification-subject", text: notification.subject || "Notification" }),
      badge(notification.status, DELIVERY[notification.status] || notification.status),
    ),
    h("p", { class: "notification-message", text: notification.message || "" }),
    h("p", { class: "notification-meta", text: meta }),
  );
}

function mailItem(mail) {
  return h(
    "li",
    { class: "notification" },
    h("h3", { class: "notification-subject", text: mail.subject || "(no subject)" }),
    h("p", {
      class: "notification-meta",
      text: [`From ${mail.sender}`, dateTime(mail.date)].filter(Boolean).join(" · "),
    }),
    h("p", { class: "notification-message", text: mail.body || "" }),
  );
}

/**
 * What the local SMTP server of `tijori up` received for this user. Read only when opened,
 * since the gateway answers 404 outside development; `open` opens it at once (the
 * verification screen, whose code is in there).
 */
export function devMailbox(ctx, { open = false } = {}) {
  const body = h("div", { class: "mailbox-body" });
  const refresh = h("button", { type: "button", class: "btn btn-quiet", text: "Check for new mail" });
  const details = h(
    "details",
    { class: "card mailbox" },
    h("summary", { text: "Development mailbox" }),
    h("p", { class: "hint", text: "The e-mails as the local mail server of tijori up received them." }),
    body,
    refresh,
  );
  let loading = false;
  async function load() {
    if (loading) return;
    loading = true;
    replace(body, spinner("Loading the mailbox"));
    try {
      const user = await ctx.user();
      const query = new URLSearchParams({ limit: "20" });
      if (user?.email) query.set("receiver", user.email);
      const { items = [] } = (await api(`/api/dev/mailbox?${query}`, { auth: false, signal: ctx.signal })) || {};
      replace(
        body,
        items.length
          ? h("ul", { class: "list", "aria-label": "Received e-mails" }, items.map(mailItem))
          : emptyState({ title: "The mailbox is empty", text: "" }),
      );
      refresh.hidden = false;
    } catch (error) {
      if (ctx.signal.aborted) return;
      const missing = error instanceof ApiError && error.status === 404;
      const text = missing
        ? "There is no development mailbox here: it comes with the local mail server of tijori up."
        : errorText(error);
      replace(body, h("p", { class: "hint", text }));
      refresh.hidden = missing;
    } finally {
      loading = false;
    }
  }
  let loaded = false;
  details.addEventListener("toggle", () => {
    if (!details.open || loaded) return;
    loaded = true;
    load();
  });
  refresh.addEventListener("click", load);
  refresh.hidden = true;
  if (open) details.open = true; // fires "toggle", which loads it
  return details;
}

export function renderNotifications(main, ctx) {
  const list = pagedList({
    load: (cursor) => {
      const query = new URLSearchParams({ limit: "20" });
      if (cursor) query.set("cursor", cursor);
      return api(`/api/notifications?${query}`, { signal: ctx.signal });
    },
    renderItem: notificationItem,
    empty: { title: "No notifications yet", text: "E-mails about your account and payments will show up here." },
    errorTitle: "We couldn't load your notifications",
    noun: "notifications",
    label: "Notifications",
    signal: ctx.signal,
  });
  const screen = h(
    "section",
    { class: "screen narrow" },
    h(
      "div",
      { class: "screen-header" },
      heading("Notifications"),
      h("p", { text: "E-mails Tijori sent you, and whether they were delivered." }),
    ),
    h("div", { class: "card" }, list.element),
  );
  main.append(screen);
  hasDevMailbox().then((here) => {
    if (here && !ctx.signal.aborted) screen.append(devMailbox(ctx));
  });
  return { title: "Notifications" };
}
