// Sign-up and log-in.

import { ApiError, api, session } from "./api.js";
import { h, heading } from "./dom.js";
import { waitText } from "./format.js";
import { Fields, busy, errorText, field, formError } from "./forms.js";

const MIN_PASSWORD = 8;
const MAX_PASSWORD = 128;
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// The API's problem codes in words; the same words for the checks made before sending.
const MESSAGES = {
  invalid_email: "Enter a valid e-mail address, like name@example.com.",
  invalid_phone: "Enter a valid mobile number, like 98765 43210.",
  email_taken: "An account with this e-mail already exists. Log in instead.",
  phone_taken: "An account with this mobile number already exists.",
  missing: "This is required.",
};

function authScreen({ title, intro, perks, form, footer, notice }) {
  return h(
    "section",
    { class: "auth" },
    h(
      "div",
      { class: "auth-hero" },
      heading(title),
      h("p", { text: intro }),
      perks
        ? h(
            "ul",
            { class: "perks" },
            perks.map((perk) => h("li", { text: perk })),
          )
        : null,
    ),
    notice ? h("p", { class: "notice", role: "status", text: notice }) : null,
    form,
    footer,
  );
}

function tooManyAttempts(error) {
  return `Too many attempts. Try again in ${waitText(error.retryAfter)}.`;
}

export function renderLogin(main, ctx) {
  const problem = formError();
  const username = field({
    name: "username",
    label: "E-mail or mobile number",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: false,
  });
  const password = field({
    name: "password",
    label: "Password",
    type: "password",
    autocomplete: "current-password",
    revealable: true,
  });
  const fields = new Fields([username, password]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Log in" });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Log in" },
    problem.element,
    username.wrapper,
    password.wrapper,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    const missing = {};
    if (!username.value.trim()) missing.username = "Enter your e-mail or mobile number.";
    if (!password.value) missing.password = "Enter your password.";
    if (fields.show(missing)) return;

    busy(submit, true, "Logging in…");
    try {
      const token = await api("/api/auth/token", {
        method: "POST",
        form: { username: username.value.trim(), password: password.value },
        auth: false,
      });
      session.save(token);
      await ctx.signedIn();
    } catch (error) {
      busy(submit, false);
      if (error instanceof ApiError && error.code === "invalid_credentials") {
        problem.show("That e-mail, mobile number or password is not right. Check them and try again.");
        password.input.focus();
      } else if (error instanceof ApiError && error.status === 429) {
        problem.show(tooManyAttempts(error));
      } else {
        const shown =
          error instanceof ApiError && error.status === 422 && fields.showProblem(error, { messages: MESSAGES });
        if (!shown) problem.show(errorText(error));
      }
    }
  });

  main.append(
    authScreen({
      title: "Welcome back",
      intro: "Log in to see your balance and send money.",
      form,
      notice: ctx.takeNotice(),
      footer: h(
        "p",
        { class: "auth-switch" },
        "New to Tijori? ",
        h("a", { href: "#/signup", text: "Create an account" }),
      ),
    }),
  );
  return { title: "Log in" };
}

/** The checks the API makes, made first so that a typo is caught before a round trip. */
function checkSignUp({ name, email, phone, password }) {
  const errors = {};
  const cleanName = name.trim();
  if (!cleanName) errors.name = "Enter your name.";
  else if (cleanName.length > 100) errors.name = "A name has at most 100 characters.";
  if (!email.trim()) errors.email = "Enter your e-mail address.";
  else if (!EMAIL_SHAPE.test(email.trim())) errors.email = MESSAGES.invalid_email;
  const digits = phone.replace(/\D/g, "");
  if (!phone.trim()) errors.phone = "Enter your mobile number.";
  else if (digits.length < 10 || /[^\d\s()+-]/.test(phone)) errors.phone = MESSAGES.invalid_phone;
  if (!password) errors.password = "Choose a password.";
  else if (password.length < MIN_PASSWORD) errors.password = `Use at least ${MIN_PASSWORD} characters.`;
  else if (password.length > MAX_PASSWORD) errors.password = `Use at most ${MAX_PASSWORD} characters.`;
  return errors;
}

export function renderSignUp(main, ctx) {
  const problem = formError();
  const name = field({ name: "name", label: "Full name", autocomplete: "name", autocapitalize: "words" });
  const email = field({
    name: "email",
    label: "E-mail",
    type: "email",
    autocomplete: "email",
    autocapitalize: "none",
    spellcheck: false,
  });
  const phone = field({
    name: "phone",
    label: "Mobile number",
    type: "tel",
    autocomplete: "tel",
    inputmode: "tel",
    hint: "10 digits; +91 is added for you.",
  });
  const password = field({
    name: "password",
    label: "Password",
    type: "password",
    autocomplete: "new-password",
    hint: `At least ${MIN_PASSWORD} characters.`,
    revealable: true,
  });
  const fields = new Fields([name, email, phone, password]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Create account" });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-label": "Sign up" },
    problem.element,
    name.wrapper,
    email.wrapper,
    phone.wrapper,
    password.wrapper,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    const body = { name: name.value, email: email.value.trim(), phone: phone.value.trim(), password: password.value };
    if (fields.show(checkSignUp(body))) return;

    busy(submit, true, "Creating your account…");
    try {
      await api("/api/users", { method: "POST", json: body, auth: false });
    } catch (error) {
      busy(submit, false);
      const shown =
        error instanceof ApiError &&
        [409, 422].includes(error.status) &&
        fields.showProblem(error, {
          messages: MESSAGES,
          codeFields: {
            email_taken: "email",
            phone_taken: "phone",
            invalid_email: "email",
            invalid_phone: "phone",
            invalid_name: "name",
            weak_password: "password",
          },
        });
      if (!shown) problem.show(errorText(error));
      return;
    }
    try {
      session.save(
        await api("/api/auth/token", {
          method: "POST",
          form: { username: body.email, password: body.password },
          auth: false,
        }),
      );
      const user = await ctx.freshUser();
      // the first code was e-mailed with the sign-up (unless verification is off)
      if (user && !user.email_verified) ctx.navigate("#/verify?fresh=1");
      else await ctx.signedIn({ fresh: true });
    } catch {
      ctx.setNotice("Your account is ready. Log in to continue.");
      ctx.navigate("#/login");
    }
  });

  main.append(
    authScreen({
      title: "Create your account",
      intro: "Send money to anyone with a mobile number or e-mail.",
      perks: ["Welcome balance once your e-mail is verified", "Instant transfers", "E-mail receipts"],
      form,
      footer: h(
        "p",
        { class: "auth-switch" },
        "Already have an account? ",
        h("a", { href: "#/login", text: "Log in" }),
      ),
    }),
  );
  return { title: "Sign up" };
}
