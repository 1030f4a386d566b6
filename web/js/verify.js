// E-mail verification: the 6-digit code we e-mailed, a new one at most once a minute,
// and the banner on home until the address is verified.

import { ApiError, api } from "./api.js";
import { announce, h, heading } from "./dom.js";
import { waitText } from "./format.js";
import { busy, errorText, field, formError } from "./forms.js";
import { devMailbox, hasDevMailbox } from "./notifications.js";

const CODE_SHAPE = /^\d{6}$/;
const RESEND_SECONDS = 60;

/** "0:42": a wait shorter than a minute or two, as a clock shows it. */
function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

/** The button that asks for a new code, showing how long until it may. */
function resendButton(signal, onSent, onError) {
  const button = h("button", { type: "button", class: "btn btn-secondary btn-block" });
  let timer = null;
  let until = 0;

  function tick() {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    if (left > 0) {
      button.disabled = true;
      button.textContent = `Send a new code in ${clock(left)}`;
    } else {
      window.clearInterval(timer);
      timer = null;
      button.disabled = false;
      button.textContent = "Send a new code";
    }
  }

  function wait(seconds) {
    until = Date.now() + seconds * 1000;
    if (!timer) timer = window.setInterval(tick, 1000);
    tick();
  }

  signal.addEventListener("abort", () => window.clearInterval(timer), { once: true });
  button.addEventListener("click", async () => {
    busy(button, true, "Sending…");
    try {
      const sent = await api("/api/users/me/email/verification", { method: "POST", signal });
      busy(button, false);
      wait(sent?.resend_in || RESEND_SECONDS);
      onSent(sent);
    } catch (error) {
      busy(button, false);
      if (error instanceof ApiError && error.code === "too_many_requests") {
        wait(error.retryAfter || RESEND_SECONDS);
      } else {
        tick();
        onError(error);
      }
    }
  });
  return { element: button, wait };
}

export function renderVerify(main, ctx) {
  const problem = formError();
  const sentTo = h("strong", { text: "your e-mail address" });
  const status = h("p", { class: "notice", role: "status", hidden: true });
  const code = field({
    name: "code",
    label: "Verification code",
    autocomplete: "one-time-code",
    inputmode: "numeric",
    maxlength: 6,
    hint: "The 6 digits in the e-mail. It works for 10 minutes.",
  });
  code.input.classList.add("code-input");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Verify e-mail" });
  const resend = resendButton(
    ctx.signal,
    (sent) => {
      problem.clear();
      code.setError("");
      code.input.value = "";
      status.hidden = false;
      status.textContent = `A new code is on its way to ${sent?.email || "your e-mail address"}.`;
      announce(status.textContent);
      code.input.focus();
    },
    (error) => problem.show(errorText(error)),
  );
  // the first code went out with the sign-up: a new one may be asked for a minute later
  if (ctx.query.get("fresh") === "1") resend.wait(RESEND_SECONDS);
  else resend.wait(0);

  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Verify your e-mail" },
    problem.element,
    status,
    code.wrapper,
    submit,
    resend.element,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    code.setError("");
    const value = code.value.replace(/\s/g, "");
    if (!CODE_SHAPE.test(value)) {
      code.setError("Enter the 6 digits of the code we e-mailed you.");
      code.input.focus();
      return;
    }
    busy(submit, true, "Verifying…");
    try {
      await api("/api/users/me/email/verify", { method: "POST", json: { code: value }, signal: ctx.signal });
      await ctx.freshUser();
      ctx.setNotice("Your e-mail is verified.");
      ctx.navigate("#/home?welcome=1"); // home says the balance is on its way until it is here
    } catch (error) {
      busy(submit, false);
      if (error instanceof ApiError && error.code === "invalid_code") {
        const left = error.problem.attempts_left;
        code.setError(
          left > 0
            ? `That code is not right. ${left} ${left === 1 ? "try" : "tries"} left.`
            : "That code is not right, and it is used up. Send a new code.",
        );
        code.input.select();
        code.input.focus();
      } else if (error instanceof ApiError && error.code === "code_expired") {
        problem.show("This code has expired or is used up. Send a new code and enter that one.");
        resend.element.focus();
      } else if (error instanceof ApiError && error.status === 429) {
        problem.show(`Too many tries. Try again in ${waitText(error.retryAfter)}.`);
      } else {
        problem.show(errorText(error));
      }
    }
  });

  const later = h("a", { class: "auth-switch-link", href: "#/home", text: "Do this later" });
  const lookAround = h("p", { class: "auth-switch" }, "You can look around first. ", later);
  main.append(
    h(
      "section",
      { class: "auth" },
      h(
        "div",
        { class: "auth-hero" },
        heading("Verify your e-mail"),
        h("p", {}, "We sent a 6-digit code to ", sentTo, ". Enter it to start paying and to get your welcome balance."),
      ),
      form,
      lookAround,
    ),
  );
  // the code can be read here where Tijori runs its own mail server (make run)
  hasDevMailbox().then((here) => {
    if (here && !ctx.signal.aborted) lookAround.before(devMailbox(ctx, { open: true }));
  });

  ctx.user().then((user) => {
    if (ctx.signal.aborted || !user) return;
    if (user.email_verified) {
      ctx.navigate("#/home", { replace: true });
      return;
    }
    sentTo.textContent = user.email;
  });
  code.input.focus();
  return { title: "Verify your e-mail" };
}

/** The banner home shows until the e-mail address is verified. */
export function verifyBanner() {
  return h(
    "section",
    { class: "card verify-banner span-all", role: "region", "aria-label": "Verify your e-mail" },
    h(
      "div",
      { class: "verify-banner-text" },
      h("h2", { text: "Verify your e-mail to start paying" }),
      h("p", { text: "Enter the 6-digit code we e-mailed you, and your welcome balance is credited." }),
    ),
    h("a", { class: "btn btn-primary", href: "#/verify", text: "Enter code" }),
  );
}
