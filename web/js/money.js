// Money in and out: adding money through the payment gateway, withdrawing to a bank account,
// and the status of each (top-ups and withdrawals are the payments service's).

import { ApiError, api, isTransient, newIdempotencyKey, sleep } from "./api.js";
import { h, heading, replace, spinner } from "./dom.js";
import {
  amountProblem as typedAmountProblem,
  availableAmount,
  limitReason,
  rupees,
  shortDateTime,
  waitText,
} from "./format.js";
import { Fields, busy, errorText, field, formError, sentence } from "./forms.js";
import { pagedList } from "./list.js";

const IFSC_SHAPE = /^[A-Z]{4}0[A-Z0-9]{6}$/;
const ACCOUNT_SHAPE = /^\d{9,18}$/;
const PIN_SHAPE = /^(\d{4}|\d{6})$/;
const QUICK_AMOUNTS = ["100", "500", "1000", "2000"];
const POLL_MS = 1000;
const STATUS_TIMEOUT_MS = 120_000;

const TOPUP_FINAL = new Set(["CREDITED", "FAILED", "REFUNDED"]);
const WITHDRAWAL_FINAL = new Set(["PROCESSED", "FAILED", "REVERSED"]);

const TOPUP_LABELS = {
  CREATED: "Waiting for payment",
  CAPTURED: "Paid, adding to your wallet",
  CREDITED: "Added",
  FAILED: "Payment failed",
  REFUNDED: "Refunded",
};
const WITHDRAWAL_LABELS = {
  REQUESTED: "Requested",
  HELD: "Money set aside",
  PROCESSING: "On its way to the bank",
  PROCESSED: "Sent to the bank",
  FAILED: "Failed, money returned",
  REVERSED: "Returned by the bank",
};
const REASONS = {
  wallet_frozen: "your wallet is frozen",
  insufficient_funds: "your available balance did not cover it",
  hold_expired: "the bank did not confirm it in time",
  gateway_unavailable: "the payment gateway could not be reached",
  payout_refused: "the payment gateway refused it",
  abandoned: "the payment was not completed",
  kyc_required: "withdrawing to a bank needs a full-KYC wallet",
  limit_exceeded: "it would pass a limit of your wallet",
};

function reason(code, limit = null) {
  return (code === "limit_exceeded" && limitReason(limit)) || REASONS[code] || (code ? code.replaceAll("_", " ") : "");
}

function tone(status) {
  if (["CREDITED", "PROCESSED"].includes(status)) return "SUCCESS";
  if (["FAILED", "REFUNDED", "REVERSED"].includes(status)) return "FAILED";
  return "PENDING";
}

function amountProblem(amount) {
  return typedAmountProblem(amount, "500 or 99.50");
}

function cleanAmount(text) {
  return text.replace(/[\s,₹]/g, "");
}

/** One top-up or withdrawal in a list: what, when, and its state (styled as a payment). */
function moneyRow(item, kind) {
  const labels = kind === "topup" ? TOPUP_LABELS : WITHDRAWAL_LABELS;
  const title = kind === "topup" ? "Top-up" : `To bank ···${item.account.account_last4}`;
  const href = kind === "topup" ? `#/topups/${encodeURIComponent(item.id)}` : `#/withdrawals/${encodeURIComponent(item.id)}`;
  const direction = kind === "topup" ? "RECEIVED" : "SENT";
  const status = tone(item.status);
  return h(
    "li",
    {},
    h(
      "a",
      { class: "tx-row", href, dataset: { testid: `${kind}-row`, status } },
      h("span", { class: "tx-avatar", "aria-hidden": "true", dataset: { direction }, text: kind === "topup" ? "+" : "₹" }),
      h(
        "span",
        { class: "tx-main" },
        h("span", { class: "tx-name", text: title }),
        h("span", { class: "tx-sub", text: shortDateTime(item.created_at) }),
      ),
      h(
        "span",
        { class: "tx-side" },
        h("span", {
          class: "amount",
          dataset: { direction, status },
          text: `${kind === "topup" ? "+" : "−"}${rupees(item.amount)}`,
        }),
        h("span", { class: `badge badge-${status}`, text: labels[item.status] || item.status }),
      ),
    ),
  );
}

/** The user's top-ups or withdrawals, newest first. */
export function moneyList({ kind, signal, limit = 10, paged = true }) {
  const path = kind === "topup" ? "/api/payments/topups" : "/api/payments/withdrawals";
  return pagedList({
    load: (cursor) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set("cursor", cursor);
      return api(`${path}?${query}`, { signal });
    },
    renderItem: (item) => moneyRow(item, kind),
    empty:
      kind === "topup"
        ? { title: "No money added yet", text: "Money you add from your bank or UPI shows here." }
        : { title: "No withdrawals yet", text: "Money you send to your bank account shows here." },
    errorTitle: kind === "topup" ? "Could not load your top-ups" : "Could not load your withdrawals",
    noun: kind === "topup" ? "top-ups" : "withdrawals",
    label: kind === "topup" ? "Money added" : "Withdrawals",
    signal,
    paged,
  });
}

/** A live status line: a spinner while pending, ✓ or ! when final. */
function statusLine(testid) {
  const element = h("div", { class: "tx-status", role: "status", "aria-live": "polite", dataset: { testid } });
  return {
    element,
    set(status, title, detail) {
      element.dataset.status = tone(status);
      const mark =
        tone(status) === "PENDING"
          ? spinner()
          : h("span", { "aria-hidden": "true", text: tone(status) === "SUCCESS" ? "✓" : "!" });
      replace(
        element,
        h("span", { class: "status-icon" }, mark),
        h("strong", { text: title }),
        detail ? h("span", { class: "status-detail", text: detail }) : null,
      );
    },
  };
}

async function follow(path, isFinal, show, signal) {
  const deadline = Date.now() + STATUS_TIMEOUT_MS;
  while (!signal.aborted) {
    let current;
    try {
      current = await api(path, { signal });
    } catch (error) {
      if (error?.name === "AbortError" || signal.aborted) return null;
      if (!isTransient(error)) throw error;
      await sleep(POLL_MS * 3, signal);
      continue;
    }
    show(current);
    if (isFinal(current) || Date.now() > deadline) return current;
    await sleep(POLL_MS, signal);
  }
  return null;
}

function screen(title, intro, ...content) {
  return h(
    "section",
    { class: "screen narrow" },
    h("div", { class: "screen-header" }, heading(title), h("p", { text: intro })),
    ...content,
  );
}

// --- add money -----------------------------------------------------------------------

export function renderAddMoney(main, ctx) {
  const problem = formError();
  const amount = field({ name: "amount", label: "Amount", prefix: "₹", inputmode: "decimal", autocomplete: "off" });
  const fields = new Fields([amount]);
  const chips = h(
    "div",
    { class: "amount-chips", role: "group", "aria-label": "Suggested amounts" },
    QUICK_AMOUNTS.map((value) => {
      const chip = h("button", { type: "button", class: "amount-chip", text: rupees(value).replace(".00", "") });
      chip.addEventListener("click", () => {
        amount.value = value;
        amount.input.focus();
      });
      return chip;
    }),
  );
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Continue to payment" });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Add money" },
    h("h2", { text: "Add money" }),
    h("p", {
      class: "hint",
      text: "You pay on the payment gateway's page (UPI, card or net banking), then come back here. " +
        "A minimum-KYC wallet holds up to ₹10,000 and takes up to ₹10,000 a month.",
    }),
    problem.element,
    amount.wrapper,
    chips,
    submit,
  );
  let pressed = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (pressed) return;
    problem.clear();
    fields.clear();
    const value = cleanAmount(amount.value);
    const wrong = amountProblem(value);
    if (wrong) {
      fields.show({ amount: wrong });
      return;
    }
    pressed = true;
    busy(submit, true, "Opening the payment page…");
    try {
      const topup = await api("/api/payments/topups", { method: "POST", json: { amount: value }, signal: ctx.signal });
      window.location.assign(topup.checkout_url);
    } catch (error) {
      pressed = false;
      busy(submit, false);
      if (error?.name === "AbortError") return;
      if (error instanceof ApiError && ["invalid_amount", "limit_exceeded"].includes(error.code)) {
        amount.setError(sentence(error.problem.detail?.replace(/^[a-z_.]+: /, "")) || "Enter another amount.");
        amount.input.focus();
      } else if (error instanceof ApiError && error.code === "gateway_unavailable") {
        problem.show("The payment gateway is not answering. Nothing was charged: try again in a moment.");
      } else {
        problem.show(errorText(error));
      }
    }
  });
  const recent = h(
    "section",
    { class: "card" },
    h("h2", { text: "Money added" }),
    moneyList({ kind: "topup", signal: ctx.signal, limit: 5, paged: false }).element,
  );
  main.append(screen("Add money", "From your bank to your Tijori wallet.", form, recent));
  return { title: "Add money" };
}

export function renderTopup(main, ctx) {
  const id = ctx.params[0] || "";
  const line = statusLine("topup-status");
  const actions = h("div", { class: "actions" });
  const card = h("section", { class: "card" }, h("h2", { text: "Adding money" }), line.element, actions);
  main.append(screen("Add money", "The status of your payment.", card));
  line.set("CREATED", "Checking your payment…");
  const returned = ctx.query.get("result");

  function show(topup) {
    const what = rupees(topup.amount);
    if (topup.status === "CREDITED") line.set("CREDITED", `${what} added ✓`, "It is in your wallet now.");
    else if (topup.status === "REFUNDED")
      line.set("REFUNDED", `${what} refunded`, `We could not add it: ${reason(topup.reason, topup.limit)}. The payment goes back to you.`);
    else if (topup.status === "FAILED")
      line.set("FAILED", "Payment failed", `${what}: ${reason(topup.reason) || "the payment did not go through"}. Nothing was charged.`);
    else if (topup.status === "CAPTURED") line.set("CAPTURED", `Adding ${what}…`, "Your payment is received.");
    else if (returned === "pending" || returned === "failed" || returned === "invalid_signature")
      line.set("CREATED", `${what} not paid yet`, "The payment is not complete. You can pay now or come back later.");
    else line.set("CREATED", `Waiting for the payment of ${what}…`, "This takes a few seconds.");
    const buttons = [];
    if (topup.status === "CREATED" && topup.checkout_url) {
      buttons.push(h("a", { class: "btn btn-secondary", href: topup.checkout_url, text: "Pay now" }));
    }
    if (TOPUP_FINAL.has(topup.status)) buttons.push(h("a", { class: "btn btn-primary", href: "#/home", text: "Done" }));
    replace(actions, ...buttons);
  }

  follow(`/api/payments/topups/${encodeURIComponent(id)}`, (t) => TOPUP_FINAL.has(t.status), show, ctx.signal).catch(
    (error) => line.set("FAILED", "This top-up could not be loaded", errorText(error)),
  );
  return { title: "Add money" };
}

// --- withdraw ------------------------------------------------------------------------

function withdrawalProblems(body, pin) {
  const errors = {};
  const wrong = amountProblem(body.amount);
  if (wrong) errors.amount = wrong;
  if (!ACCOUNT_SHAPE.test(body.account_number)) errors.account_number = "An account number is 9 to 18 digits.";
  if (!IFSC_SHAPE.test(body.ifsc)) errors.ifsc = "An IFSC is 11 characters, like HDFC0001234 (the fifth is 0).";
  if (!body.account_name) errors.account_name = "Enter the account holder's name, as the bank has it.";
  if (!PIN_SHAPE.test(pin)) errors.pin = "Enter your 4 or 6 digit transaction PIN.";
  return errors;
}

export function renderWithdraw(main, ctx) {
  const problem = formError();
  const available = h("p", { class: "hint", dataset: { testid: "available" }, text: "Available: …" });
  // a minimum-KYC wallet cannot withdraw to a bank: say so before the form is filled in
  const kycNeeded = h(
    "p",
    { class: "notice", dataset: { testid: "kyc-needed" }, hidden: true },
    "Withdrawing to a bank needs full KYC. Verify your PAN on ",
    h("a", { href: "#/limits", text: "Limits" }),
    " first.",
  );
  const amount = field({ name: "amount", label: "Amount", prefix: "₹", inputmode: "decimal", autocomplete: "off" });
  const number = field({ name: "account_number", label: "Account number", inputmode: "numeric", autocomplete: "off" });
  const ifsc = field({ name: "ifsc", label: "IFSC", hint: "On your cheque book or passbook.", autocapitalize: "characters" });
  const name = field({ name: "account_name", label: "Account holder's name", autocomplete: "name" });
  const pin = field({ name: "pin", label: "Transaction PIN", type: "password", inputmode: "numeric", autocomplete: "off" });
  pin.input.maxLength = 6;
  const fields = new Fields([amount, number, ifsc, name, pin]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Withdraw" });
  const line = statusLine("withdrawal-status");
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Withdraw to bank" },
    h("h2", { text: "Withdraw to bank" }),
    available,
    kycNeeded,
    problem.element,
    amount.wrapper,
    number.wrapper,
    ifsc.wrapper,
    name.wrapper,
    pin.wrapper,
    submit,
    line.element,
  );
  let attempt = null; // the same details keep the same key: a retry cannot pay out twice
  let locked = false;

  async function showAvailable() {
    try {
      const wallet = await api("/api/wallets/me", { signal: ctx.signal });
      available.textContent = `Available: ${rupees(wallet.available)}`;
      kycNeeded.hidden = wallet.kyc_tier !== "MINIMUM";
    } catch {
      available.textContent = "";
    }
  }

  function show(withdrawal) {
    const what = `${rupees(withdrawal.amount)} to ···${withdrawal.account.account_last4}`;
    const label = WITHDRAWAL_LABELS[withdrawal.status] || withdrawal.status;
    const why = withdrawal.reason ? `${what}: ${reason(withdrawal.reason, withdrawal.limit)}` : what;
    line.set(withdrawal.status, WITHDRAWAL_FINAL.has(withdrawal.status) ? label : `${label}…`, why);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (locked) return;
    problem.clear();
    fields.clear();
    const body = {
      amount: cleanAmount(amount.value),
      account_number: number.value.replace(/\s/g, ""),
      ifsc: ifsc.value.trim().toUpperCase(),
      account_name: name.value.trim(),
    };
    if (fields.show(withdrawalProblems(body, pin.value))) return;
    const fingerprint = JSON.stringify(body);
    if (!attempt || attempt.fingerprint !== fingerprint) attempt = { fingerprint, key: newIdempotencyKey() };
    locked = true;
    busy(submit, true, "Withdrawing…");
    let withdrawal;
    try {
      const grant = await api("/api/auth/payment-token", {
        method: "POST",
        json: { pin: pin.value, amount: body.amount, idempotency_key: attempt.key },
        signal: ctx.signal,
      });
      withdrawal = await api("/api/payments/withdrawals", {
        method: "POST",
        json: body,
        headers: { "Idempotency-Key": attempt.key, "X-Payment-Token": grant.payment_token },
        signal: ctx.signal,
      });
    } catch (error) {
      locked = false;
      busy(submit, false);
      if (error?.name === "AbortError") return;
      showError(error);
      return;
    }
    pin.value = "";
    show(withdrawal);
    try {
      const final = await follow(
        `/api/payments/withdrawals/${encodeURIComponent(withdrawal.id)}`,
        (w) => WITHDRAWAL_FINAL.has(w.status),
        show,
        ctx.signal,
      );
      if (final && WITHDRAWAL_FINAL.has(final.status)) {
        attempt = null;
        if (final.status === "PROCESSED") amount.value = ""; // the next one is a new withdrawal
      }
    } finally {
      locked = false;
      busy(submit, false);
      showAvailable();
      showRecent();
    }
  });

  function showError(error) {
    if (!(error instanceof ApiError)) {
      problem.show(errorText(error));
      return;
    }
    if (error.code === "invalid_pin") {
      const left = error.problem.attempts_left;
      pin.setError(
        left > 0
          ? `That PIN is not right. ${left} ${left === 1 ? "try" : "tries"} left.`
          : "That PIN is not right. Payments are now locked for a while.",
      );
      pin.input.focus();
    } else if (error.code === "pin_locked") {
      problem.show(`Too many wrong PINs: payments are locked for ${waitText(error.retryAfter)}.`);
    } else if (error.code === "pin_not_set") {
      problem.show(h("span", {}, "Set a transaction PIN first: ", h("a", { href: "#/security", text: "Security" }), "."));
    } else if (error.code === "email_not_verified") {
      problem.show(h("span", {}, "Verify your e-mail address first: ", h("a", { href: "#/verify", text: "enter your code" }), "."));
    } else if (error.code === "kyc_required") {
      problem.show(
        h("span", {}, "Withdrawing to a bank needs full KYC. Verify your PAN on ", h("a", { href: "#/limits", text: "Limits" }), "."),
      );
    } else if (error.code === "wallet_frozen") {
      problem.show(
        h("span", {}, "Your wallet is frozen: no money can leave it. Unfreeze it on ", h("a", { href: "#/security", text: "Security" }), "."),
      );
    } else if (error.code === "idempotency_key_reused") {
      problem.show("This withdrawal was already asked for with other details. Check the list below first.");
    } else if (error.code === "insufficient_funds" && availableAmount(error.problem)) {
      fields.show({ amount: `Not enough balance: ${rupees(availableAmount(error.problem))} is available.` });
    } else if (!fields.showProblem(error, { messages: {}, codeFields: { invalid_amount: "amount", limit_exceeded: "amount" } })) {
      problem.show(errorText(error));
    }
  }

  const listHolder = h("div", {});
  const showRecent = () =>
    replace(listHolder, moneyList({ kind: "withdrawal", signal: ctx.signal, limit: 5, paged: false }).element);
  const recent = h("section", { class: "card" }, h("h2", { text: "Withdrawals" }), listHolder);
  showRecent();
  main.append(screen("Withdraw", "From your Tijori wallet to your own bank account.", form, recent));
  showAvailable();
  return { title: "Withdraw" };
}

export function renderWithdrawal(main, ctx) {
  const id = ctx.params[0] || "";
  const line = statusLine("withdrawal-status");
  main.append(screen("Withdraw", "The status of your withdrawal.", h("section", { class: "card" }, line.element)));
  line.set("REQUESTED", "Loading…");
  const show = (withdrawal) => {
    const what = `${rupees(withdrawal.amount)} to ···${withdrawal.account.account_last4}`;
    const why = withdrawal.reason ? `${what}: ${reason(withdrawal.reason, withdrawal.limit)}` : what;
    line.set(withdrawal.status, WITHDRAWAL_LABELS[withdrawal.status] || withdrawal.status, why);
  };
  follow(`/api/payments/withdrawals/${encodeURIComponent(id)}`, (w) => WITHDRAWAL_FINAL.has(w.status), show, ctx.signal).catch(
    (error) => line.set("FAILED", "This withdrawal could not be loaded", errorText(error)),
  );
  return { title: "Withdraw" };
}
