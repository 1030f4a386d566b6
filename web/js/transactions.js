// History (sent and received, filtered by status) and one transaction's details.

import { ApiError, api, isTransient, sleep } from "./api.js";
import { announce, h, heading, icon, initials, replace, spinner } from "./dom.js";
import { counterpart, dateTime, reasonText, rupees, shortDateTime, signedRupees, statusLabel } from "./format.js";
import { errorState, pagedList } from "./list.js";
import { moneyList } from "./money.js";

export const POLL_MS = 700;
const FINAL = new Set(["SUCCESS", "FAILED"]);
const FILTERS = [
  ["", "All"],
  ["PENDING", "Pending"],
  ["SUCCESS", "Success"],
  ["FAILED", "Failed"],
];

export function isFinal(transaction) {
  return FINAL.has(transaction?.status);
}

export function transactionHref(transaction) {
  return `#/tx/${encodeURIComponent(transaction.id)}`;
}

export function badge(status, text = statusLabel(status)) {
  return h("span", { class: `badge badge-${String(status).replace(/[^A-Z]/g, "")}`, text });
}

/** One row of a transaction list: a link to its details. */
export function transactionRow(transaction) {
  const name = counterpart(transaction);
  const sent = transaction.direction === "SENT";
  // the time never wraps apart nor is cut off: on a narrow phone it goes to the next line
  const when = h("time", { datetime: transaction.created_at, text: shortDateTime(transaction.created_at) });
  return h(
    "li",
    {},
    h(
      "a",
      {
        class: "tx-row",
        href: transactionHref(transaction),
        dataset: { testid: "tx-row", status: transaction.status },
      },
      h("span", {
        class: "tx-avatar",
        "aria-hidden": "true",
        dataset: { direction: transaction.direction },
        text: initials(name),
      }),
      h(
        "span",
        { class: "tx-main" },
        h("span", { class: "tx-name", text: name }),
        h("span", { class: "tx-sub" }, `${sent ? "Sent" : "Received"} · `, when),
        transaction.note ? h("span", { class: "tx-note", text: transaction.note }) : null,
      ),
      h(
        "span",
        { class: "tx-side" },
        h("span", {
          class: "amount",
          dataset: { direction: transaction.direction, status: transaction.status },
          text: signedRupees(transaction.amount, transaction.direction),
        }),
        badge(transaction.status),
      ),
    ),
  );
}

function listTransactions({ status = "", limit = 20, cursor = null, signal }) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  if (status) query.set("status", status);
  return api(`/api/transactions?${query}`, { signal });
}

export function transactionList({ status = "", limit = 20, signal, paged = true, remember = null }) {
  const filterName = { PENDING: "pending", SUCCESS: "successful", FAILED: "failed" }[status];
  return pagedList({
    load: (cursor) => listTransactions({ status, limit, cursor, signal }),
    renderItem: transactionRow,
    empty: status
      ? { title: `No ${filterName} transactions`, text: "Try another filter." }
      : { title: "No transactions yet", text: "Money you send or receive will show up here." },
    errorTitle: "We couldn't load your transactions",
    noun: "transactions",
    label: "Transactions",
    signal,
    paged,
    remember,
  });
}

export function renderHistory(main, ctx) {
  const initial = FILTERS.some(([value]) => value === ctx.query.get("status")) ? ctx.query.get("status") : "";
  const holder = h("div", {});
  // Back from a transaction comes back to the rows loaded and the place scrolled to
  const show = (status) =>
    replace(holder, transactionList({ status, signal: ctx.signal, remember: "historyList" }).element);

  const chips = FILTERS.map(([value, text]) => {
    const input = h("input", { type: "radio", name: "status", value, checked: value === initial });
    input.addEventListener("change", () => {
      // keep the filter in the address without re-rendering the screen
      history.replaceState(null, "", value ? `#/history?status=${value}` : "#/history");
      show(value);
    });
    return h("label", { class: "chip" }, input, h("span", { text }));
  });
  const filters = h(
    "fieldset",
    { class: "filters" },
    h("legend", { class: "visually-hidden", text: "Show transactions" }),
    chips,
  );

  main.append(
    h(
      "section",
      { class: "screen narrow" },
      h(
        "div",
        { class: "screen-header" },
        heading("History"),
        h("p", { text: "Money you sent and received, newest first." }),
      ),
      h("div", { class: "card" }, filters, holder),
      h(
        "div",
        { class: "card" },
        h("h2", { text: "Money added" }),
        moneyList({ kind: "topup", signal: ctx.signal }).element,
      ),
      h(
        "div",
        { class: "card" },
        h("h2", { text: "Withdrawals to your bank" }),
        moneyList({ kind: "withdrawal", signal: ctx.signal }).element,
      ),
    ),
  );
  show(initial);
  return { title: "History" };
}

function fact(term, value) {
  return h("div", {}, h("dt", { text: term }), h("dd", {}, value));
}

function receipt(transaction) {
  const sent = transaction.direction === "SENT";
  const name = counterpart(transaction);
  const status = h("div", { role: "status", class: "receipt-status" });
  if (transaction.status === "PENDING") {
    status.append(h("p", { class: "balance-opening" }, spinner(), "Processing…"));
  } else if (transaction.status === "FAILED") {
    status.append(h("p", { class: "receipt-reason", text: `Failed: ${reasonText(transaction.reason, transaction.limit)}` }));
  } else {
    status.append(h("p", { class: "visually-hidden", text: sent ? "Sent ✓" : "Received ✓" }));
  }
  return h(
    "div",
    { class: "card receipt", dataset: { testid: "receipt", status: transaction.status } },
    badge(transaction.status),
    h("p", {
      class: "receipt-amount amount",
      dataset: { direction: transaction.direction, status: transaction.status },
      text: signedRupees(transaction.amount, transaction.direction),
    }),
    h("p", { class: "receipt-who" }, sent ? "Sent to " : "Received from ", h("strong", { text: name })),
    status,
  );
}

function details(transaction) {
  const sent = transaction.direction === "SENT";
  return h(
    "div",
    { class: "card" },
    h("h2", { text: "Details" }),
    h(
      "dl",
      { class: "facts" },
      fact(sent ? "To" : "From", counterpart(transaction)),
      fact("Amount", rupees(transaction.amount)),
      fact("Note", transaction.note || "—"),
      fact(
        "Status",
        transaction.status === "FAILED" ? `Failed: ${reasonText(transaction.reason, transaction.limit)}` : statusLabel(transaction.status),
      ),
      fact("Started", dateTime(transaction.created_at)),
      fact("Last update", dateTime(transaction.updated_at)),
      fact("Transaction ID", h("span", { class: "mono", text: transaction.id })),
    ),
  );
}

export function renderTransaction(main, ctx) {
  const id = ctx.params[0] || "";
  if (!id) {
    ctx.navigate("#/history", { replace: true });
    return { title: "History" };
  }
  const body = h("div", { class: "screen" }, h("div", { class: "card receipt" }, spinner("Loading the transaction")));
  main.append(
    h(
      "section",
      { class: "screen narrow" },
      h("a", { class: "back-link", href: "#/history" }, icon("back"), "History"),
      heading("Payment details"),
      body,
    ),
  );

  async function follow() {
    let previous = null;
    while (!ctx.signal.aborted) {
      let transaction;
      try {
        transaction = await api(`/api/transactions/${encodeURIComponent(id)}`, { signal: ctx.signal });
      } catch (error) {
        if (error?.name === "AbortError" || ctx.signal.aborted) return;
        if (previous && isTransient(error)) {
          await sleep(POLL_MS * 3, ctx.signal);
          continue;
        }
        const state =
          error instanceof ApiError && error.status === 404
            ? errorState(
                "We couldn't find this transaction",
                error,
                h("a", { class: "btn btn-secondary", href: "#/history", text: "See all transactions" }),
              )
            : errorState("We couldn't load this transaction", error, follow);
        replace(body, h("div", { class: "card" }, state));
        return;
      }
      if (ctx.signal.aborted) return;
      if (!previous || previous.status !== transaction.status) {
        replace(body, receipt(transaction), details(transaction));
        if (previous)
          announce(
            transaction.status === "FAILED"
              ? `Failed: ${reasonText(transaction.reason, transaction.limit)}`
              : statusLabel(transaction.status),
          );
      }
      previous = transaction;
      if (isFinal(transaction)) return;
      await sleep(POLL_MS, ctx.signal);
    }
  }
  follow();
  return { title: "Payment details" };
}
