// The PIN pad: one payment confirmed with the transaction PIN, traded for a payment token.

import { ApiError, OfflineError, api, isTransient } from "./api.js";
import { h, replace } from "./dom.js";
import { rupees } from "./format.js";
import { busy } from "./forms.js";

const MAX_DIGITS = 6;
const PIN_LENGTHS = [4, 6];
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
// a tap this soon after the pad opens is the hurried second tap on "Send money", not a digit
const GHOST_TAP_MS = 500;

/**
 * Ask for the PIN of one payment in a modal pad, and trade it for a payment token bound to
 * that payment (`POST /api/auth/payment-token` with the form's Idempotency-Key).
 *
 * Resolves to `{ token, expiresAt }`; to `{ refusal }` (an ApiError the form explains: PIN
 * locked or not set, the last wrong PIN, a detail of the payment refused) once the pad has
 * closed; or to null when the person cancels. A wrong PIN with tries left, or no network,
 * keeps the pad open and says so.
 *
 * `purpose` (`{ what, action }`), for a PIN that confirms no payment (raising a daily
 * limit, unfreezing the wallet with amount "0"): the line that says what the PIN is for,
 * and the confirming button's text.
 */
export function confirmWithPin({ amount, receiver = null, idempotencyKey, signal, purpose = null }) {
  return new Promise((resolve) => {
    let digits = "";
    let checking = false;
    let openedAt = 0;
    const dots = h("div", { class: "pin-dots", role: "img", dataset: { testid: "pin-dots" } });
    const error = h("p", { class: "pin-error", role: "alert", dataset: { testid: "pin-error" } });
    const pay = h("button", {
      type: "button",
      class: "btn btn-primary",
      text: purpose ? purpose.action : `Pay ${rupees(amount)}`,
    });
    const cancel = h("button", { type: "button", class: "btn btn-quiet", text: "Cancel" });
    const erase = h("button", { type: "button", class: "pin-key pin-key-erase", "aria-label": "Delete last digit" }, "⌫");
    const key = (digit) =>
      h("button", { type: "button", class: "pin-key", text: digit, on: { click: () => tap(digit) } });
    const keys = [...KEYS.map(key), h("span", { "aria-hidden": "true" }), key("0"), erase];
    const dialog = h(
      "dialog",
      { class: "pin-dialog", "aria-labelledby": "pin-title", "aria-describedby": "pin-what", tabindex: "-1" },
      h(
        "div",
        { class: "pin-pad" },
        h("h2", { id: "pin-title", text: "Enter your PIN" }),
        purpose
          ? h("p", { id: "pin-what", class: "pin-what", text: purpose.what })
          : h(
              "p",
              { id: "pin-what", class: "pin-what" },
              "To pay ",
              h("strong", { text: rupees(amount) }),
              " to ",
              h("strong", { text: receiver }),
            ),
        dots,
        error,
        h("div", { class: "pin-keys", role: "group", "aria-label": "PIN digits" }, keys),
        h("div", { class: "pin-actions" }, cancel, pay),
      ),
    );

    function show() {
      const slots = Math.max(digits.length > 4 ? MAX_DIGITS : 4, digits.length);
      replace(
        dots,
        Array.from({ length: slots }, (_, i) => h("span", { class: i < digits.length ? "pin-dot filled" : "pin-dot" })),
      );
      dots.setAttribute("aria-label", `${digits.length} of 4 or 6 digits entered`);
      pay.disabled = checking || !PIN_LENGTHS.includes(digits.length);
    }

    function press(digit) {
      if (checking || digits.length >= MAX_DIGITS) return;
      digits += digit;
      error.textContent = "";
      show();
    }

    function tap(digit) {
      if (performance.now() - openedAt >= GHOST_TAP_MS) press(digit);
    }

    function erasePrevious() {
      if (checking) return;
      digits = digits.slice(0, -1);
      show();
    }

    function close(result) {
      signal?.removeEventListener("abort", onAbort);
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(result);
    }

    function onAbort() {
      close(null);
    }

    async function submit() {
      if (checking || !PIN_LENGTHS.includes(digits.length)) return;
      checking = true;
      show();
      busy(pay, true, "Checking…");
      try {
        const answer = await api("/api/auth/payment-token", {
          method: "POST",
          json: { pin: digits, amount, receiver: receiver ?? null, idempotency_key: idempotencyKey },
          signal,
        });
        close({ token: answer.payment_token, expiresAt: Date.now() + answer.expires_in * 1000 });
      } catch (problem) {
        if (problem?.name === "AbortError") return;
        checking = false;
        busy(pay, false);
        digits = "";
        show();
        if (problem instanceof ApiError && problem.code === "invalid_pin" && problem.problem.attempts_left > 0) {
          const left = problem.problem.attempts_left;
          error.textContent = `Wrong PIN. ${left} ${left === 1 ? "try" : "tries"} left.`;
        } else if (isTransient(problem)) {
          error.textContent =
            problem instanceof OfflineError
              ? "You are offline. Enter your PIN again when you are back."
              : "Tijori is having trouble. Enter your PIN again in a moment.";
        } else {
          close({ refusal: problem });
          return;
        }
        dialog.focus();
      }
    }

    erase.addEventListener("click", erasePrevious);
    pay.addEventListener("click", submit);
    cancel.addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Escape: ours to close, so the promise settles
      if (!checking) close(null);
    });
    dialog.addEventListener("keydown", (event) => {
      if (/^[0-9]$/.test(event.key)) {
        event.preventDefault();
        press(event.key);
      } else if (event.key === "Backspace") {
        event.preventDefault();
        erasePrevious();
      } else if (event.key === "Enter" && event.target.closest?.(".pin-keys, .pin-actions") === null) {
        event.preventDefault(); // on a button, Enter presses that button instead
        submit();
      }
    });
    signal?.addEventListener("abort", onAbort, { once: true });

    show();
    document.body.append(dialog);
    dialog.showModal();
    openedAt = performance.now();
    dialog.focus();
  });
}
