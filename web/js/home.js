// Home: the balance, sending money (confirmed with the PIN, with its live status) and the
// latest payments.

import { ApiError, OfflineError, api, isTransient, newIdempotencyKey, sleep } from "./api.js";
import { announce, h, heading, icon, replace, spinner } from "./dom.js";
import { amountProblem, availableAmount, limitText, reasonText, rupees, shortDateTime, waitText } from "./format.js";
import { Fields, busy, errorText, field, formError, sentence } from "./forms.js";
import { confirmWithPin } from "./pinpad.js";
import { POLL_MS, isFinal, transactionHref, transactionList } from "./transactions.js";
import { verifyBanner } from "./verify.js";

const NOTE_MAX = 140;
const WALLET_RETRY_MS = 1000;
const WELCOME_TRIES = 30; // seconds to watch for the promotion after verification
const STATUS_TIMEOUT_MS = 120_000;
// a payment token this close to its expiry is not sent: the PIN is asked again
const TOKEN_MARGIN_MS = 15_000;

/** The balance card: loading, "opening your wallet", the balance, or what went wrong. */
function balanceCard(signal, onRefresh) {
  const amount = h(
    "div",
    { class: "balance-body" },
    h("span", { class: "skeleton skeleton-amount", "aria-hidden": "true" }),
  );
  const meta = h("p", { class: "balance-meta" });
  const refresh = h("button", { type: "button", class: "icon-btn", "aria-label": "Refresh balance" }, icon("refresh"));
  const card = h(
    "section",
    { class: "balance-card", "aria-labelledby": "balance-label", "aria-busy": "true" },
    h(
      "div",
      { class: "balance-label" },
      h("h2", { id: "balance-label", class: "balance-title", text: "Wallet balance" }),
      refresh,
    ),
    amount,
    meta,
  );
  let wallet = null;
  let loading = null;

  function show(next) {
    wallet = next;
    card.setAttribute("aria-busy", "false");
    replace(amount, h("p", { class: "balance-amount", dataset: { testid: "balance" }, text: rupees(next.balance) }));
    card.classList.toggle("is-frozen", next.status === "FROZEN");
    replace(
      meta,
      next.status === "FROZEN"
        ? h(
            "span",
            { class: "frozen-note", dataset: { testid: "frozen" } },
            h("span", { class: "frozen", text: "Frozen" }),
            " No money can leave it; money sent to you still arrives. ",
            next.frozen_by === "ADMIN"
              ? "Tijori's team froze it."
              : h("a", { href: "#/security", text: "Unfreeze" }),
          )
        : next.available !== next.balance
          ? `${rupees(next.available)} available · the rest is on its way to your bank`
          : `Updated ${shortDateTime(new Date().toISOString())}`,
    );
  }

  async function load() {
    let opening = false;
    while (!signal.aborted) {
      try {
        const next = await api("/api/wallets/me", { signal });
        show(next);
        if (opening) announce(`Your wallet is ready. Balance ${rupees(next.balance)}.`);
        return next;
      } catch (error) {
        if (error?.name === "AbortError" || signal.aborted) return null;
        if (error instanceof ApiError && error.code === "wallet_not_found") {
          if (!opening) {
            opening = true;
            replace(amount, h("p", { class: "balance-opening", role: "status" }, spinner(), "Opening your wallet…"));
            meta.textContent = "This takes a moment after sign-up.";
          }
          await sleep(WALLET_RETRY_MS, signal);
        } else if (isTransient(error)) {
          // the banner says what is wrong; the card says what it shows meanwhile
          card.setAttribute("aria-busy", "false");
          if (!wallet) replace(amount, h("p", { class: "balance-opening", text: "Balance unavailable" }));
          meta.textContent = wallet ? "Could not refresh: this is the last balance we saw. Retrying…" : "Retrying…";
          await sleep(WALLET_RETRY_MS * 3, signal);
        } else {
          card.setAttribute("aria-busy", "false");
          replace(amount, h("p", { class: "balance-opening", text: "Balance unavailable" }));
          meta.textContent = errorText(error);
          return null;
        }
      }
    }
    return null;
  }

  /** Load once at a time; callers share the answer. */
  function reload() {
    if (!loading) loading = load().finally(() => (loading = null));
    return loading;
  }

  // not disabled while loading: a disabled button would drop the keyboard focus
  refresh.addEventListener("click", async () => {
    refresh.setAttribute("aria-busy", "true");
    onRefresh();
    await reload();
    refresh.setAttribute("aria-busy", "false");
    if (wallet) announce(`Balance ${rupees(wallet.balance)}.`);
  });

  return {
    element: card,
    reload,
    get wallet() {
      return wallet;
    },
  };
}

function quickActions(startSending) {
  const content = (iconName, text) => [h("span", { class: "bubble" }, icon(iconName)), h("span", { text })];
  const send = h("button", { type: "button", class: "quick-action" }, content("send", "Send money"));
  send.addEventListener("click", startSending);
  return h(
    "div",
    { class: "quick-actions card", role: "group", "aria-label": "Shortcuts" },
    send,
    h("a", { class: "quick-action", href: "#/add-money" }, content("plus", "Add money")),
    h("a", { class: "quick-action", href: "#/withdraw" }, content("bank", "Withdraw")),
    h("a", { class: "quick-action", href: "#/history" }, content("history", "History")),
  );
}

/** The live status of the payment just sent: "Sending…", "Sent ✓", "Failed: …". */
function statusPanel() {
  const element = h("div", {
    class: "tx-status",
    role: "status",
    "aria-live": "polite",
    dataset: { testid: "tx-status" },
  });
  function set(status, title, detail, transaction) {
    element.dataset.status = status;
    const mark =
      status === "PENDING" ? spinner() : h("span", { "aria-hidden": "true", text: status === "SUCCESS" ? "✓" : "!" });
    const link = transaction ? h("a", { href: transactionHref(transaction), text: "View details" }) : null;
    replace(
      element,
      h("span", { class: "status-icon" }, mark),
      h("strong", { text: title }),
      h("span", { class: "status-detail" }, detail, link ? " · " : null, link),
    );
  }
  return {
    element,
    show(transaction) {
      const who = transaction.receiver?.name || "the receiver";
      const what = `${rupees(transaction.amount)} to ${who}`;
      if (transaction.status === "SUCCESS") set("SUCCESS", "Sent ✓", what, transaction);
      else if (transaction.status === "FAILED")
        set("FAILED", `Failed: ${reasonText(transaction.reason, transaction.limit)}`, what, transaction);
      else set("PENDING", "Sending…", what, transaction);
    },
    stillWaiting(transaction, onNewPayment) {
      set("PENDING", "Still processing", "Check History in a little while for the result.", transaction);
      const again = h("button", { type: "button", class: "btn btn-secondary", text: "Start a new payment" });
      again.addEventListener("click", () => {
        again.remove();
        onNewPayment();
      });
      element.append(again);
    },
    clear() {
      element.replaceChildren();
      delete element.dataset.status;
    },
  };
}

function checkTransfer({ receiver, amount, note }) {
  const errors = {};
  if (!receiver) errors.receiver = "Enter the mobile number or e-mail of the person you are paying.";
  const wrongAmount = amountProblem(amount);
  if (wrongAmount) errors.amount = wrongAmount;
  if (note.length > NOTE_MAX) errors.note = `A note has at most ${NOTE_MAX} characters.`;
  return errors;
}

function sendForm({ signal, onSettled, hasPin, isFrozen, reloadWallet }) {
  const problem = formError();
  const receiver = field({
    name: "receiver",
    label: "To",
    hint: "Mobile number or e-mail of a Tijori user.",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: false,
  });
  const amount = field({ name: "amount", label: "Amount", prefix: "₹", inputmode: "decimal", autocomplete: "off" });
  const note = field({
    name: "note",
    label: "Note",
    optional: true,
    maxlength: NOTE_MAX,
    hint: "Shown to both of you.",
  });
  const fields = new Fields([receiver, amount, note]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Send money" });
  const status = statusPanel();
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-labelledby": "send-title" },
    problem.element,
    receiver.wrapper,
    amount.wrapper,
    note.wrapper,
    submit,
  );
  // the payment under way, with its key and the payment token the PIN bought for it: the same
  // details keep the same key (a retry after a network error cannot pay twice, and the token,
  // while it lasts, spares asking the PIN again) until the payment is settled or the user
  // starts a new one
  let attempt = null;
  // only the latest payment may write to the status panel
  let followed = 0;
  // while a payment is on its way the form takes no other: a second press pays nothing more
  let locked = false;

  function lock(isLocked) {
    locked = isLocked;
    busy(submit, isLocked, "Sending…");
    for (const input of [receiver.input, amount.input, note.input]) input.readOnly = isLocked;
  }

  function startNewPayment() {
    attempt = null;
    lock(false);
  }

  async function follow(transaction) {
    const mine = ++followed;
    const stale = () => signal.aborted || mine !== followed;
    const deadline = Date.now() + STATUS_TIMEOUT_MS;
    let current = transaction;
    status.show(current);
    while (!isFinal(current) && !stale()) {
      if (Date.now() > deadline) {
        status.stillWaiting(current, startNewPayment);
        return;
      }
      await sleep(POLL_MS, signal);
      if (stale()) return;
      try {
        const next = await api(`/api/transactions/${encodeURIComponent(current.id)}`, { signal });
        if (stale()) return;
        if (next.status !== current.status) status.show(next);
        current = next;
      } catch (error) {
        if (error?.name === "AbortError") return;
        if (stale()) return;
        if (!isTransient(error)) {
          status.stillWaiting(current, startNewPayment);
          return;
        }
      }
    }
    if (stale()) return;
    startNewPayment(); // settled: the next press is a new payment, with a new key
    if (current.status === "SUCCESS") {
      receiver.value = "";
      amount.value = "";
      note.value = "";
    }
    onSettled(current);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (locked) return;
    problem.clear();
    fields.clear();
    const body = {
      receiver: receiver.value.trim(),
      amount: amount.value.replace(/[\s,₹]/g, ""),
      note: note.value.trim(),
    };
    if (fields.show(checkTransfer(body))) return;
    const payload = { receiver: body.receiver, amount: body.amount };
    if (body.note) payload.note = body.note;
    const fingerprint = JSON.stringify(payload);
    if (!attempt || attempt.fingerprint !== fingerprint) {
      attempt = { fingerprint, key: newIdempotencyKey(), token: null };
    }

    if (isFrozen()) {
      // wallets would refuse it (wallet_frozen): say so before the PIN is asked
      showFrozen();
      return;
    }
    lock(true);
    if (!(await hasPin())) {
      lock(false);
      showNoPin();
      return;
    }
    const current = attempt;
    if (!current.token || current.token.expiresAt - Date.now() < TOKEN_MARGIN_MS) {
      const confirmed = await confirmWithPin({
        amount: payload.amount,
        receiver: payload.receiver,
        idempotencyKey: current.key,
        signal,
      });
      if (signal.aborted) return;
      if (!confirmed || confirmed.refusal) {
        lock(false);
        if (confirmed) showPinRefusal(confirmed.refusal);
        else submit.focus(); // cancelled: nothing was sent
        return;
      }
      current.token = confirmed;
    }
    followed += 1; // an earlier payment still being followed stops writing to the panel
    status.clear();
    let transaction;
    try {
      transaction = await api("/api/transactions", {
        method: "POST",
        json: payload,
        headers: { "Idempotency-Key": current.key, "X-Payment-Token": current.token.token },
        signal,
      });
    } catch (error) {
      if (error?.name === "AbortError") return;
      lock(false);
      if (error instanceof ApiError && error.code === "payment_token_invalid") {
        current.token = null; // nothing was made: the same payment, confirmed again
        problem.show("The confirmation of this payment has expired. Press Send money and enter your PIN again.");
        return;
      }
      if (isTransient(error)) {
        // the same key goes with the same payment: a retry cannot pay twice
        problem.show(
          error instanceof OfflineError
            ? "You are offline. When you are back, press Send money again: you won't be charged twice."
            : "Tijori is having trouble. Press Send money again in a moment: you won't be charged twice.",
        );
        return;
      }
      attempt = null; // refused: nothing was made, the next press is a new payment
      showTransferError(error);
      return;
    }
    follow(transaction); // still locked, until it settles
  });

  function showFrozen() {
    problem.show(
      "Your wallet is frozen: no payment can leave it. ",
      h("a", { href: "#/security", text: "Unfreeze it in Security" }),
    );
  }

  function showNoPin() {
    problem.show(
      "Set a transaction PIN first: every payment is confirmed with it. ",
      h("a", { href: "#/security", text: "Set your PIN" }),
    );
  }

  /** Why the PIN pad closed without a token: the lock, no PIN, or the payment itself. */
  function showPinRefusal(error) {
    if (error instanceof ApiError && error.code === "pin_not_set") {
      showNoPin();
    } else if (error instanceof ApiError && error.code === "email_not_verified") {
      attempt = null;
      problem.show(
        "Verify your e-mail address first: paying needs it. ",
        h("a", { href: "#/verify", text: "Enter your code" }),
      );
    } else if (error instanceof ApiError && (error.code === "pin_locked" || error.code === "invalid_pin")) {
      const wait = waitText(error.retryAfter);
      problem.show(
        error.code === "pin_locked"
          ? `Too many wrong PINs: payments are locked for ${wait}. `
          : "Wrong PIN again: payments are now locked for a while. ",
        h("a", { href: "#/security", text: "Reset your PIN with your password" }),
      );
    } else {
      attempt = null; // refused: nothing was made, the next press is a new payment
      showTransferError(error);
    }
  }

  function showTransferError(error) {
    if (!(error instanceof ApiError)) {
      problem.show(errorText(error));
      return;
    }
    const detail = sentence(error.problem?.detail?.replace(/^[a-z_.]+: /, ""));
    const available = availableAmount(error.problem);
    const messages = {
      receiver_not_found: "No Tijori account has this mobile number or e-mail.",
      self_transfer: "You can't send money to yourself.",
      insufficient_funds: available ? `Not enough balance: ${rupees(available)} is available.` : "Not enough balance.",
      limit_exceeded: limitText(error.problem),
      invalid_receiver: detail || "Enter a mobile number or e-mail.",
      invalid_amount: detail || "Enter a valid amount.",
      invalid_note: detail || `A note has at most ${NOTE_MAX} characters.`,
    };
    const codeFields = {
      receiver_not_found: "receiver",
      self_transfer: "receiver",
      invalid_receiver: "receiver",
      insufficient_funds: "amount",
      limit_exceeded: "amount",
      invalid_amount: "amount",
      invalid_note: "note",
    };
    if (error.code === "idempotency_key_reused") {
      problem.show("This payment was already sent with different details. Check History before you try again.");
    } else if (error.code === "wallet_not_found") {
      problem.show("Your wallet is still opening. Try again in a moment.");
    } else if (error.code === "wallet_frozen") {
      // the pre-check's 423: frozen since this page loaded the wallet (by an ADMIN, say),
      // or unfrozen so lately that the pre-check has not heard of it yet
      reloadWallet().then(() => {
        if (isFrozen()) showFrozen();
        else problem.show("Your wallet was unfrozen a moment ago. Press Send money again in a moment.");
      });
    } else if (error.status === 429) {
      problem.show(errorText(error));
    } else if (!fields.showProblem(error, { messages: error.errors.length ? {} : messages, codeFields })) {
      problem.show(errorText(error));
    }
  }

  const element = h(
    "section",
    { class: "card send-card", id: "send", "aria-labelledby": "send-title" },
    h("h2", { id: "send-title", text: "Send money" }),
    form,
    h("div", { class: "send-status" }, status.element),
  );
  return {
    element,
    focus: () => {
      element.scrollIntoView({ behavior: "smooth", block: "start" });
      receiver.input.focus({ preventScroll: true });
    },
  };
}

/**
 * Just verified: the promotion is credited moments later (an event away), so look again
 * every second for a while, rather than show ₹0.00 until the next visit. `onArrived(late)`
 * once it is there; `late` when it came while the page watched.
 */
async function awaitWelcomeBalance(balance, signal, onArrived) {
  for (let tries = 0; tries < WELCOME_TRIES && !signal.aborted; tries += 1) {
    if (balance.wallet && balance.wallet.balance !== "0.00") {
      if (tries > 0) announce(`Your welcome balance has arrived. Balance ${rupees(balance.wallet.balance)}.`);
      onArrived(tries > 0);
      return;
    }
    await sleep(WALLET_RETRY_MS, signal);
    await balance.reload();
  }
}

export function renderHome(main, ctx) {
  const title = heading("Hello");
  title.classList.add("greeting");
  const recentHolder = h("div", {});
  const showRecent = () =>
    replace(recentHolder, transactionList({ limit: 5, signal: ctx.signal, paged: false }).element);
  const balance = balanceCard(ctx.signal, showRecent);
  const send = sendForm({
    signal: ctx.signal,
    // the cached user may predate a PIN set since: ask again before saying there is none
    hasPin: async () => (await ctx.user())?.pin_set || (await ctx.freshUser())?.pin_set !== false,
    isFrozen: () => balance.wallet?.status === "FROZEN",
    reloadWallet: () => balance.reload(),
    onSettled: () => {
      balance.reload();
      showRecent();
    },
  });
  const recent = h(
    "section",
    { class: "card span-all", "aria-labelledby": "recent-title" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "recent-title", text: "Recent payments" }),
      h("a", { href: "#/history", text: "See all" }),
    ),
    recentHolder,
  );

  const bannerHolder = h("div", { class: "span-all verify-holder" });
  const notice = ctx.takeNotice();
  // just verified (verify.js): the welcome balance is watched for until it is here
  const welcoming = ctx.query.get("welcome") === "1";
  const welcomeText = h("span", { text: "Your welcome balance is on its way." });
  const noticeLine =
    notice || welcoming
      ? h(
          "p",
          { class: "notice", role: "status", dataset: { testid: "home-notice" } },
          notice,
          notice && welcoming ? " " : null,
          welcoming ? welcomeText : null,
        )
      : null;
  main.append(
    h(
      "section",
      { class: "screen" },
      h("div", { class: "screen-header" }, title, h("p", { text: "Your Tijori wallet" })),
      noticeLine,
      h(
        "div",
        { class: "home-grid" },
        bannerHolder,
        h("div", { class: "home-side" }, balance.element, quickActions(send.focus)),
        send.element,
        recent,
      ),
    ),
  );

  ctx.user().then((user) => {
    if (!user || ctx.signal.aborted) return;
    title.textContent = `Hello, ${user.name}`;
    if (user.email_verified === false) replace(bannerHolder, verifyBanner());
    else bannerHolder.remove();
  });
  balance.reload().then(() => {
    if (!welcoming) return;
    awaitWelcomeBalance(balance, ctx.signal, (late) => {
      welcomeText.textContent = "Your welcome balance has arrived.";
      if (late) showRecent();
    });
  });
  showRecent();
  return { title: "Home" };
}
