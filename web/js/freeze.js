// Freezing the wallet (lost phone): no money leaves it until it is unfrozen with the
// password and the PIN; money sent to it still arrives.

import { ApiError, api, isTransient } from "./api.js";
import { h, replace, spinner } from "./dom.js";
import { waitText } from "./format.js";
import { Fields, busy, errorText, field, formError } from "./forms.js";
import { confirmWithPin } from "./pinpad.js";

// what the payment token of an unfreeze is bound to (wallets/freezes.py): no money moves
const UNFREEZE_PURPOSE = "wallet-unfreeze";

/** The Security screen's card: freeze the wallet, or unfreeze it with password and PIN. */
export function freezeCard(ctx) {
  const card = h(
    "section",
    { class: "card form freeze-card", "aria-labelledby": "freeze-title" },
    h("h2", { id: "freeze-title", text: "Freeze wallet" }),
    spinner("Loading"),
  );
  const done = h("p", { class: "notice", role: "status", hidden: true });

  function show(wallet) {
    card.classList.toggle("is-frozen", wallet.status === "FROZEN");
    const title = h("h2", { id: "freeze-title", text: wallet.status === "FROZEN" ? "Wallet frozen" : "Freeze wallet" });
    const [state, ...rest] =
      wallet.status !== "FROZEN" ? activeState() : wallet.frozen_by === "ADMIN" ? adminState() : frozenState();
    replace(card, title, state, done, ...rest); // what just happened, under the state it led to
  }

  function activeState() {
    const problem = formError();
    const freeze = h("button", { type: "button", class: "btn btn-freeze btn-block", text: "Freeze my wallet" });
    freeze.addEventListener("click", async () => {
      problem.clear();
      done.hidden = true;
      busy(freeze, true, "Freezing…");
      try {
        const wallet = await api("/api/wallets/me/freeze", { method: "POST", signal: ctx.signal });
        done.textContent = "Your wallet is frozen. No money can leave it until you unfreeze it. We have e-mailed you.";
        done.hidden = false;
        show(wallet);
      } catch (error) {
        if (error?.name === "AbortError") return;
        busy(freeze, false);
        problem.show(errorText(error));
      }
    });
    return [
      h("p", { class: "freeze-state" }, h("span", { class: "active", text: "Active" })),
      h("p", {
        class: "hint",
        text:
          "Lost your phone? Freeze your wallet at once: every payment and withdrawal from it is refused " +
          "until you unfreeze it with your password and PIN. Money sent to you still arrives.",
      }),
      problem.element,
      freeze,
    ];
  }

  function adminState() {
    return [
      h("p", { class: "freeze-state" }, h("span", { class: "frozen", text: "Frozen" })),
      h("p", {
        class: "hint",
        text:
          "Tijori's team froze your wallet and e-mailed you why. Only they can unfreeze it: " +
          "reply to that e-mail. Money sent to you still arrives.",
      }),
    ];
  }

  function frozenState() {
    const problem = formError();
    const password = field({
      name: "password",
      label: "Your password",
      type: "password",
      autocomplete: "current-password",
      revealable: true,
    });
    const fields = new Fields([password]);
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Unfreeze wallet" });
    const form = h(
      "form",
      { class: "form", novalidate: true, "aria-label": "Unfreeze wallet" },
      problem.element,
      password.wrapper,
      submit,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.clear();
      fields.clear();
      done.hidden = true;
      if (fields.show(password.value ? {} : { password: "Enter your password." })) return;
      busy(submit, true, "Unfreezing…");
      const confirmed = await confirmWithPin({
        amount: "0",
        receiver: null,
        idempotencyKey: UNFREEZE_PURPOSE,
        signal: ctx.signal,
        purpose: { what: "To unfreeze your wallet", action: "Unfreeze" },
      });
      if (ctx.signal.aborted) return;
      if (!confirmed || confirmed.refusal) {
        busy(submit, false);
        if (confirmed) showError(confirmed.refusal);
        else submit.focus(); // cancelled: nothing was sent
        return;
      }
      try {
        const wallet = await api("/api/wallets/me/unfreeze", {
          method: "POST",
          json: { password: password.value },
          headers: { "X-Payment-Token": confirmed.token },
          signal: ctx.signal,
        });
        done.textContent = "Your wallet is unfrozen. You can send money again.";
        done.hidden = false;
        show(wallet);
      } catch (error) {
        if (error?.name === "AbortError") return;
        busy(submit, false);
        showError(error);
      }
    });

    function showError(error) {
      if (!(error instanceof ApiError)) {
        problem.show(errorText(error));
      } else if (error.code === "invalid_credentials") {
        password.setError("That password is not right.");
        password.input.focus();
      } else if (error.code === "too_many_attempts") {
        problem.show(`Too many wrong passwords. Try again in ${waitText(error.retryAfter)}.`);
      } else if (error.code === "pin_locked" || error.code === "invalid_pin") {
        problem.show(
          error.code === "pin_locked"
            ? `Too many wrong PINs: your PIN is locked for ${waitText(error.retryAfter)}.`
            : "Wrong PIN again: your PIN is now locked for a while.",
        );
      } else if (error.code === "pin_not_set") {
        problem.show("Set a transaction PIN first (above): unfreezing is confirmed with it.");
      } else if (error.code === "payment_token_invalid") {
        problem.show("The confirmation has expired. Press Unfreeze wallet and enter your PIN again.");
      } else if (error.code === "frozen_by_admin") {
        show({ status: "FROZEN", frozen_by: "ADMIN" });
      } else if (isTransient(error)) {
        problem.show("Tijori is having trouble. Nothing was changed: try again in a moment.");
      } else {
        problem.show(errorText(error));
      }
    }

    return [
      h("p", { class: "freeze-state" }, h("span", { class: "frozen", text: "Frozen" })),
      h("p", {
        class: "hint",
        text: "No money can leave your wallet; money sent to you still arrives. To unfreeze it, enter your password, then your PIN.",
      }),
      form,
    ];
  }

  api("/api/wallets/me", { signal: ctx.signal })
    .then(show)
    .catch((error) => {
      if (error?.name === "AbortError") return;
      replace(
        card,
        h("h2", { id: "freeze-title", text: "Freeze wallet" }),
        h("p", { class: "form-error", role: "alert", text: "Your wallet could not be loaded. Reload to try again." }),
      );
    });
  return card;
}
