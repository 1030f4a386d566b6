// Security: the transaction PIN every payment will be confirmed with, freezing the wallet, sessions
// and the password.

import { ApiError, api } from "./api.js";
import { h, heading, spinner } from "./dom.js";
import { waitText } from "./format.js";
import { Fields, busy, errorText, field, formError } from "./forms.js";
import { freezeCard } from "./freeze.js";

// the rules the API applies (users/pin.py), checked first to spare a round trip
const PIN_SHAPE = /^(\d{4}|\d{6})$/;

/** Why a PIN is refused, in words; null when it is allowed. */
export function pinProblem(pin) {
  if (!PIN_SHAPE.test(pin)) return "A PIN is 4 or 6 digits.";
  const steps = new Set();
  for (let i = 1; i < pin.length; i += 1) steps.add(Number(pin[i]) - Number(pin[i - 1]));
  if (steps.size === 1 && [0, 1, -1].includes([...steps][0])) {
    return "This PIN is too easy to guess. Avoid one digit repeated or a run like 1234.";
  }
  return null;
}

function pinField(name, label) {
  const control = field({
    name,
    label,
    type: "password",
    inputmode: "numeric",
    autocomplete: "off",
    revealable: true,
  });
  control.input.maxLength = 6; // no character counter: the hint says 4 or 6 digits
  control.input.setAttribute("pattern", "[0-9]*");
  return control;
}

function pinForm(main, ctx, user) {
  const problem = formError();
  const done = h("p", { class: "notice", role: "status", hidden: true });
  const current = pinField("current_pin", "Current PIN");
  const password = field({
    name: "password",
    label: "Your password",
    type: "password",
    autocomplete: "current-password",
    revealable: true,
  });
  const pin = pinField("pin", user.pin_set ? "New PIN" : "Choose a PIN");
  const confirm = pinField("confirm", "Type the PIN again");
  const fields = new Fields([current, password, pin, confirm]);
  let forgotten = false;
  const forgot = h("button", { type: "button", class: "btn btn-quiet", text: "Forgot your PIN? Use your password" });
  const showProof = () => {
    current.wrapper.hidden = !user.pin_set || forgotten;
    password.wrapper.hidden = !user.pin_set || !forgotten;
    forgot.hidden = !user.pin_set;
    forgot.textContent = forgotten ? "Use your current PIN instead" : "Forgot your PIN? Use your password";
  };
  forgot.addEventListener("click", () => {
    forgotten = !forgotten;
    showProof();
    (forgotten ? password : current).input.focus();
  });
  showProof();

  const submit = h("button", {
    type: "submit",
    class: "btn btn-primary btn-block",
    text: user.pin_set ? "Change PIN" : "Set PIN",
  });
  const SET = "Your PIN is set. You will confirm every payment with it.";
  const intro = h("p", {
    class: "hint",
    text: user.pin_set ? SET : "Choose the 4 or 6 digit PIN you will confirm every payment with. Keep it to yourself.",
  });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Transaction PIN" },
    h("h2", { text: "Transaction PIN" }),
    intro,
    done,
    problem.element,
    current.wrapper,
    password.wrapper,
    forgot,
    pin.wrapper,
    confirm.wrapper,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    done.hidden = true;
    const errors = {};
    if (user.pin_set && !forgotten && !current.value) errors.current_pin = "Enter your current PIN.";
    if (user.pin_set && forgotten && !password.value) errors.password = "Enter your password.";
    const weak = pinProblem(pin.value);
    if (weak) errors.pin = weak;
    else if (confirm.value !== pin.value) errors.confirm = "The two PINs are not the same.";
    if (fields.show(errors)) return;

    const body = { pin: pin.value };
    if (user.pin_set && forgotten) body.password = password.value;
    else if (user.pin_set) body.current_pin = current.value;
    busy(submit, true, "Saving…");
    try {
      await api("/api/users/me/pin", { method: "PUT", json: body, signal: ctx.signal });
      busy(submit, false);
      user.pin_set = true;
      intro.textContent = SET;
      for (const control of [current, password, pin, confirm]) control.value = "";
      pin.wrapper.querySelector("label").textContent = "New PIN";
      submit.textContent = "Change PIN";
      submit.dataset.label = "Change PIN";
      forgotten = false;
      showProof();
      done.textContent = "Your PIN is saved. Use it to confirm your payments.";
      done.hidden = false;
    } catch (error) {
      busy(submit, false);
      if (!(error instanceof ApiError)) {
        problem.show(errorText(error));
      } else if (error.code === "invalid_pin") {
        const left = error.problem.attempts_left;
        current.setError(
          left > 0
            ? `That is not your current PIN. ${left} ${left === 1 ? "try" : "tries"} left.`
            : "That is not your current PIN. Payments are now locked for a while.",
        );
        current.input.focus();
      } else if (error.code === "pin_locked") {
        problem.show(
          `Too many wrong PINs: payments are locked for ${waitText(error.retryAfter)}. ` +
            "You can still reset the PIN with your password.",
        );
      } else if (error.code === "invalid_credentials") {
        password.setError("That password is not right.");
        password.input.focus();
      } else if (error.code === "weak_pin") {
        pin.setError(pinProblem(pin.value) || "Choose another PIN.");
        pin.input.focus();
      } else {
        problem.show(errorText(error));
      }
    }
  });
  return form;
}

const MIN_PASSWORD = 8;
const MAX_PASSWORD = 128;

/** Change the password; the server ends every other session when it does. */
function passwordForm(ctx) {
  const problem = formError();
  const done = h("p", { class: "notice", role: "status", hidden: true });
  const current = field({
    name: "current_password",
    label: "Current password",
    type: "password",
    autocomplete: "current-password",
    revealable: true,
  });
  const next = field({
    name: "password",
    label: "New password",
    type: "password",
    autocomplete: "new-password",
    hint: `At least ${MIN_PASSWORD} characters.`,
    revealable: true,
  });
  const fields = new Fields([current, next]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Change password" });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Password" },
    h("h2", { text: "Password" }),
    h("p", { class: "hint", text: "Changing it logs you out everywhere else." }),
    done,
    problem.element,
    current.wrapper,
    next.wrapper,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    done.hidden = true;
    const errors = {};
    if (!current.value) errors.current_password = "Enter your current password.";
    if (next.value.length < MIN_PASSWORD) errors.password = `Use at least ${MIN_PASSWORD} characters.`;
    else if (next.value.length > MAX_PASSWORD) errors.password = `Use at most ${MAX_PASSWORD} characters.`;
    if (fields.show(errors)) return;
    busy(submit, true, "Saving…");
    try {
      await api("/api/users/me/password", {
        method: "PUT",
        json: { current_password: current.value, password: next.value },
        signal: ctx.signal,
      });
      busy(submit, false);
      current.value = "";
      next.value = "";
      done.textContent = "Your password is changed. You are logged out everywhere else.";
      done.hidden = false;
    } catch (error) {
      busy(submit, false);
      if (error instanceof ApiError && error.code === "invalid_credentials") {
        current.setError("That is not your current password.");
        current.input.focus();
      } else if (error instanceof ApiError && error.status === 429) {
        problem.show(`Too many attempts. Try again in ${waitText(error.retryAfter)}.`);
      } else if (!(error instanceof ApiError && error.status === 422 && fields.showProblem(error))) {
        problem.show(errorText(error));
      }
    }
  });
  return form;
}

export function renderSecurity(main, ctx) {
  const slot = h("div", {}, spinner("Loading"));
  const section = h(
    "section",
    { class: "screen narrow" },
    h(
      "div",
      { class: "screen-header" },
      heading("Security"),
      h("p", {
        text: "Your transaction PIN, which confirms every payment, freezing your wallet, where you are logged in, and your password.",
      }),
    ),
    slot,
  );
  main.append(section);
  ctx.freshUser().then((user) => {
    if (ctx.signal.aborted) return;
    if (!user) {
      slot.replaceChildren(
        h("p", { class: "form-error", role: "alert", text: "Your details could not be loaded. Reload to try again." }),
      );
      return;
    }
    slot.replaceChildren(pinForm(main, ctx, { ...user }));
  });
  section.append(
    h(
      "div",
      { class: "cards" },
      freezeCard(ctx),
      h(
        "div",
        { class: "card link-card" },
        h("h2", { text: "Sessions" }),
        h("p", { class: "hint", text: "See where you are logged in, end a session you do not recognise, or log out everywhere else." }),
        h("a", { class: "btn btn-secondary btn-block", href: "#/sessions", text: "Manage sessions" }),
      ),
      passwordForm(ctx),
    ),
  );
  return { title: "Security" };
}
