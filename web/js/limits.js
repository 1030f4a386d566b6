// Limits: what the wallet's KYC tier allows, used and left, the person's own daily
// limits (lowered at once, raised with the PIN), and the full-KYC upgrade.

import { ApiError, api, sleep } from "./api.js";
import { announce, h, heading, replace, spinner } from "./dom.js";
import { rupees } from "./format.js";
import { Fields, busy, errorText, field, formError } from "./forms.js";
import { errorState } from "./list.js";
import { confirmWithPin } from "./pinpad.js";

// the rules the API applies (users/kyc.py), checked first to spare a round trip
const PAN_SHAPE = /^[A-Z]{5}[0-9]{4}[A-Z]$/;
const NAME_SHAPE = /^[A-Za-z][A-Za-z .'-]*$/;
const DATE_SHAPE = /^\d{4}-\d{2}-\d{2}$/;
const POLL_MS = 1000;
const POLL_TIMES = 30;

const LIMIT_NAMES = {
  balance_cap: "Balance limit",
  monthly_load: "Money added this month",
  yearly_load: "Money added this financial year",
  monthly_p2p: "Money sent to people this month",
  daily_amount: "Your payments today",
  daily_count: "Your number of payments today",
};
const PERIODS = {
  balance: "The most your wallet can hold at any time.",
  day: "Your own limit, counted from midnight: payments and withdrawals.",
  month: "Counted from the 1st of this month.",
  financial_year: "Counted from 1 April (April to March).",
};
const TIERS = {
  MINIMUM: { label: "Minimum KYC", text: "A small wallet: lower limits, no withdrawals to a bank." },
  FULL: { label: "Full KYC", text: "Your identity is verified: higher limits and withdrawals to your bank." },
};
const KYC_STATES = {
  MINIMUM: "Upgrade to full KYC with your PAN to raise your limits and withdraw to your bank.",
  PENDING: "We are checking your PAN. This takes a moment.",
  FULL: "Your PAN is verified: your wallet is a full-KYC wallet.",
  REJECTED: "Your PAN could not be verified. Check the details and try again.",
};
const KYC_REASONS = {
  pan_not_found: "no PAN with these details was found",
  name_mismatch: "the name does not match the PAN",
};

/** Why the KYC details are refused, by field; empty when they look right. */
export function kycProblems({ pan, name, date_of_birth: born }, today = new Date()) {
  const errors = {};
  if (!PAN_SHAPE.test(pan)) errors.pan = "A PAN is 5 letters, 4 digits and a letter, like ABCPE1234F.";
  if (!name) errors.name = "Enter your name as it is on your PAN.";
  else if (!NAME_SHAPE.test(name)) errors.name = "Use letters, spaces, dots, apostrophes and hyphens only.";
  if (!DATE_SHAPE.test(born)) {
    errors.date_of_birth = "Enter your date of birth.";
  } else {
    const [year, month, day] = born.split("-").map(Number);
    const adult = new Date(year + 18, month - 1, day);
    if (new Date(year, month - 1, day) > today) errors.date_of_birth = "A date of birth is not in the future.";
    else if (adult > today) errors.date_of_birth = "Full KYC is for adults, 18 years or older.";
  }
  return errors;
}

/** The share of a limit used, as a whole percentage from 0 to 100. */
export function usedPercent(used, limit) {
  const total = Number(limit);
  if (!(total > 0)) return 100;
  return Math.max(0, Math.min(100, Math.round((Number(used) / total) * 100)));
}

const AMOUNT_SHAPE = /^\d+(\.\d{1,2})?$/;
const COUNT_SHAPE = /^\d+$/;
const DAY = new Intl.DateTimeFormat("en-IN", { day: "numeric", month: "long", year: "numeric" });

/** "500" or "500.5" as the API writes it: "500.00", "500.50"; null for an empty field. */
export function amountText(value) {
  const text = String(value ?? "").trim();
  if (!text) return null;
  const [whole, fraction = ""] = text.split(".");
  return `${BigInt(whole)}.${fraction.padEnd(2, "0")}`;
}

function paise(amount) {
  const [whole, fraction] = amountText(amount).split(".");
  return BigInt(whole) * 100n + BigInt(fraction);
}

/** Whether a cap `next` allows more than `current` (null: no cap, the most of all). */
export function raises(current, next, measure = Number) {
  if (next === null) return current !== null;
  return current !== null && measure(next) > measure(current);
}

/**
 * The payment token a raise asks for (docs/limits.md): `idempotency_key` names the caps
 * after the change, `limits:<amount or none>:<count or none>`, and `amount` is the new
 * daily amount, or, with none, the most a person may set.
 */
export function raiseMarker(caps, maxAmount) {
  const amount = caps.daily_amount ?? "none";
  const count = caps.daily_count ?? "none";
  return { idempotencyKey: `limits:${amount}:${count}`, amount: caps.daily_amount ?? maxAmount };
}

/** Why the daily limits typed are refused, by field; empty when they look right. */
export function capProblems({ daily_amount: amount, daily_count: count }, max) {
  const errors = {};
  if (amount) {
    if (!AMOUNT_SHAPE.test(amount)) errors.daily_amount = "Enter rupees, like 500 or 500.50.";
    else if (paise(amount) <= 0n) errors.daily_amount = "A limit is more than ₹0. Leave it empty for none.";
    else if (paise(amount) > paise(max.daily_amount)) errors.daily_amount = `At most ${rupees(max.daily_amount)} a day.`;
  }
  if (count) {
    if (!COUNT_SHAPE.test(count) || Number(count) < 1) errors.daily_count = "Enter a whole number of payments, like 10.";
    else if (Number(count) > max.daily_count) errors.daily_count = `At most ${max.daily_count} payments a day.`;
  }
  return errors;
}

function payments(count) {
  return `${count} ${count === 1 ? "payment" : "payments"}`;
}

function shown(limit, value) {
  return limit.unit === "payments" ? payments(value) : rupees(value);
}

function unsetRow(limit, title) {
  return h(
    "li",
    { class: "limit limit-unset", dataset: { limit: limit.name } },
    h(
      "div",
      { class: "limit-head" },
      h("span", { class: "limit-name", text: title }),
      h("span", { class: "limit-none", text: "No limit set" }),
    ),
    h(
      "p",
      { class: "limit-detail" },
      h("span", { text: `${shown(limit, limit.used)} today` }),
      h("span", { class: "hint", text: "Only your wallet's limits apply." }),
    ),
  );
}

function limitRow(limit) {
  const title = LIMIT_NAMES[limit.name] || limit.name;
  if (limit.limit === null) return unsetRow(limit, title);
  const percent = usedPercent(limit.used, limit.limit);
  const fill = h("span", { class: "limit-fill" });
  fill.style.width = `${percent}%`; // through the CSSOM: the page's CSP refuses inline styles
  const tone = percent >= 100 ? "full" : percent >= 80 ? "near" : "ok";
  return h(
    "li",
    { class: "limit", dataset: { limit: limit.name } },
    h(
      "div",
      { class: "limit-head" },
      h("span", { class: "limit-name", text: title }),
      h("span", { class: "limit-left", text: `${shown(limit, limit.left)} left` }),
    ),
    h(
      "div",
      {
        class: `limit-bar limit-bar-${tone}`,
        role: "meter",
        "aria-label": title,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(percent),
        "aria-valuetext": `${shown(limit, limit.used)} of ${shown(limit, limit.limit)} used`,
      },
      fill,
    ),
    h(
      "p",
      { class: "limit-detail" },
      h("span", { text: `${shown(limit, limit.used)} used of ${shown(limit, limit.limit)}` }),
      h("span", { class: "hint", text: PERIODS[limit.period] || "" }),
    ),
  );
}

/** A minimum-KYC wallet's upgrade deadline: a warning before it, an alert after it. */
export function deadlineNotice(limits, now = new Date()) {
  if (limits.tier !== "MINIMUM" || !limits.kyc_upgrade_deadline) return null;
  const deadline = new Date(limits.kyc_upgrade_deadline);
  const day = DAY.format(deadline);
  const passed = deadline <= now;
  const text = passed
    ? `Your wallet was not upgraded to full KYC by ${day}: it no longer receives money. ` +
      "Upgrade with your PAN below to receive again; you can still pay and spend."
    : `Upgrade to full KYC by ${day}. After that your wallet can no longer receive money.`;
  return h("p", {
    class: passed ? "notice notice-danger" : "notice notice-warn",
    role: passed ? "alert" : "status",
    dataset: { testid: "kyc-deadline" },
    text,
  });
}

function limitsCard(limits) {
  const tier = TIERS[limits.tier] || TIERS.MINIMUM;
  const own = limits.limits.filter((limit) => limit.period === "day");
  const tiers = limits.limits.filter((limit) => limit.period !== "day");
  return h(
    "section",
    { class: "card", "aria-label": "Your limits" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { text: "Your limits" }),
      h("span", { class: `badge tier-badge tier-${limits.tier}`, text: tier.label }),
    ),
    h("p", { class: "hint", text: tier.text }),
    deadlineNotice(limits),
    h("ul", { class: "limits" }, ...tiers.map(limitRow)),
    own.length
      ? h(
          "div",
          { class: "own-limits" },
          h("h3", { text: "Your daily limits" }),
          h("ul", { class: "limits" }, ...own.map(limitRow)),
        )
      : null,
  );
}

function capOf(limits, name) {
  const limit = limits.limits.find((item) => item.name === name);
  return limit ? limit.limit : null;
}

function capsCard(ctx, limits, onChange) {
  const max = limits.user_limits_max;
  const current = { daily_amount: capOf(limits, "daily_amount"), daily_count: capOf(limits, "daily_count") };
  const problem = formError();
  const amount = field({
    name: "daily_amount",
    label: "Most you pay in a day",
    prefix: "₹",
    inputmode: "decimal",
    optional: true,
    hint: `Up to ${rupees(max.daily_amount)}. Empty: no limit of your own.`,
  });
  const count = field({
    name: "daily_count",
    label: "Most payments in a day",
    inputmode: "numeric",
    optional: true,
    hint: `Up to ${max.daily_count}. Empty: no limit of your own.`,
  });
  amount.input.value = current.daily_amount ?? "";
  count.input.value = current.daily_count === null ? "" : String(current.daily_count);
  const fields = new Fields([amount, count]);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Save my limits" });
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-label": "Set your daily limits" },
    problem.element,
    amount.wrapper,
    count.wrapper,
    submit,
  );

  const save = async (caps, token) => {
    const headers = token ? { "X-Payment-Token": token } : {};
    return api("/api/wallets/me/limits", { method: "PUT", json: caps, headers, signal: ctx.signal });
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    const typed = { daily_amount: amount.value.trim(), daily_count: count.value.trim() };
    if (fields.show(capProblems(typed, max))) return;
    const caps = {
      daily_amount: amountText(typed.daily_amount),
      daily_count: typed.daily_count ? Number(typed.daily_count) : null,
    };
    const raising =
      raises(current.daily_amount, caps.daily_amount, (text) => Number(paise(text))) ||
      raises(current.daily_count, caps.daily_count);
    let token = null;
    if (raising) {
      const { idempotencyKey, amount: bound } = raiseMarker(caps, max.daily_amount);
      const what = [
        caps.daily_amount ? `${rupees(caps.daily_amount)} a day` : "no daily amount limit",
        caps.daily_count ? payments(caps.daily_count) : "no limit on the number",
      ].join(" and ");
      const confirmed = await confirmWithPin({
        amount: bound,
        idempotencyKey,
        signal: ctx.signal,
        purpose: { what: `To raise your daily limits to ${what}.`, action: "Raise my limits" },
      });
      if (ctx.signal.aborted) return;
      if (!confirmed) return submit.focus(); // cancelled: nothing changed
      if (confirmed.refusal) return problem.show(errorText(confirmed.refusal));
      token = confirmed.token;
    }
    busy(submit, true, "Saving…");
    try {
      const saved = await save(caps, token);
      announce(raising ? "Your daily limits are raised." : "Your daily limits are saved.");
      onChange(saved);
    } catch (error) {
      busy(submit, false);
      if (error?.name === "AbortError") return;
      const codeFields = { invalid_limit: "daily_amount" };
      if (!fields.showProblem(error, { messages: {}, codeFields })) problem.show(errorText(error));
    }
  });

  return h(
    "section",
    { class: "card caps-card", "aria-label": "Your daily limits" },
    h("h2", { text: "Set your daily limits" }),
    h("p", {
      class: "hint",
      text: "Cap what you pay and withdraw each day. Lowering a limit works at once; raising one asks for your PIN.",
    }),
    form,
  );
}

const KYC_BADGES = {
  MINIMUM: ["PENDING", "Minimum KYC"],
  PENDING: ["PENDING", "Checking"],
  FULL: ["SUCCESS", "Full KYC"],
  REJECTED: ["FAILED", "Not verified"],
};

function kycState(kyc) {
  const [tone, label] = KYC_BADGES[kyc.kyc] || KYC_BADGES.MINIMUM;
  const why = kyc.kyc === "REJECTED" && kyc.reason ? ` Why: ${KYC_REASONS[kyc.reason] || kyc.reason}.` : "";
  return h(
    "div",
    { class: "kyc-state", role: "status", dataset: { kyc: kyc.kyc } },
    // a minimum-KYC wallet's badge is on the limits card already
    kyc.kyc === "MINIMUM" ? null : h("span", { class: `badge badge-${tone}`, text: label }),
    h("p", { text: `${KYC_STATES[kyc.kyc] || ""}${why}` }),
    kyc.pan_masked ? h("p", { class: "hint", text: `PAN ${kyc.pan_masked}` }) : null,
  );
}

function kycCard(ctx, kyc, onChange) {
  const stateLine = h("div", {}, kycState(kyc));
  const card = h("section", { class: "card", "aria-label": "Full KYC" }, h("h2", { text: "Full KYC" }), stateLine);
  if (kyc.kyc === "FULL" || kyc.kyc === "PENDING") return card;

  const problem = formError();
  const pan = field({
    name: "pan",
    label: "PAN",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: false,
    maxlength: 10,
    hint: "10 characters, like ABCPE1234F. We keep only its last four.",
  });
  const name = field({ name: "name", label: "Name as on your PAN", autocomplete: "name" });
  const born = field({ name: "date_of_birth", label: "Date of birth", type: "date", autocomplete: "bday" });
  const fields = new Fields([pan, name, born]);
  pan.input.addEventListener("input", () => {
    const upper = pan.input.value.toUpperCase().replace(/\s/g, "");
    if (upper !== pan.input.value) pan.input.value = upper;
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Verify my PAN" });
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-label": "Upgrade to full KYC" },
    problem.element,
    pan.wrapper,
    name.wrapper,
    born.wrapper,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.clear();
    fields.clear();
    const body = { pan: pan.value.trim().toUpperCase(), name: name.value.trim(), date_of_birth: born.value };
    if (fields.show(kycProblems(body))) return;
    busy(submit, true, "Sending…");
    try {
      const asked = await api("/api/users/me/kyc", { method: "POST", json: body, signal: ctx.signal });
      onChange(asked);
    } catch (error) {
      busy(submit, false);
      if (error?.name === "AbortError") return;
      const codeFields = { invalid_pan: "pan", invalid_name: "name", invalid_date_of_birth: "date_of_birth" };
      if (error instanceof ApiError && error.code === "kyc_pending") onChange({ ...kyc, kyc: "PENDING" });
      else if (!fields.showProblem(error, { messages: {}, codeFields })) problem.show(errorText(error));
    }
  });
  card.append(form);
  return card;
}

export function renderLimits(main, ctx) {
  const limitsSlot = h("div", {}, spinner("Loading your limits"));
  const capsSlot = h("div", {});
  const kycSlot = h("div", {});
  main.append(
    h(
      "section",
      { class: "screen narrow" },
      h(
        "div",
        { class: "screen-header" },
        heading("Limits"),
        h("p", { text: "What your wallet may hold, add and send, and what is left this month." }),
      ),
      limitsSlot,
      capsSlot,
      kycSlot,
    ),
  );

  const render = (limits) => {
    replace(limitsSlot, limitsCard(limits));
    replace(capsSlot, capsCard(ctx, limits, render));
  };

  const showLimits = async () => {
    try {
      render(await api("/api/wallets/me/limits", { signal: ctx.signal }));
    } catch (error) {
      if (error?.name === "AbortError") return;
      // tried again by itself once the connection is back (list.js retryNote)
      replace(limitsSlot, h("div", { class: "card" }, errorState("We couldn't load your limits", error, showLimits)));
    }
  };

  const follow = async () => {
    // the check runs outside the request: ask until it is decided, then show the new limits
    for (let i = 0; i < POLL_TIMES && !ctx.signal.aborted; i += 1) {
      await sleep(POLL_MS, ctx.signal);
      const kyc = await api("/api/users/me/kyc", { signal: ctx.signal });
      if (kyc.kyc !== "PENDING") {
        showKyc(kyc);
        await sleep(POLL_MS, ctx.signal); // wallets applies the new tier a moment later
        await showLimits();
        return;
      }
    }
  };

  const showKyc = (kyc) => {
    replace(kycSlot, kycCard(ctx, kyc, (changed) => {
      showKyc(changed);
      if (changed.kyc === "PENDING") follow().catch(() => {});
    }));
  };

  showLimits();
  api("/api/users/me/kyc", { signal: ctx.signal })
    .then((kyc) => {
      showKyc(kyc);
      if (kyc.kyc === "PENDING") follow().catch(() => {});
    })
    .catch((error) => {
      if (error?.name === "AbortError") return;
      replace(kycSlot, h("p", { class: "form-error", role: "alert", text: errorText(error) }));
    });
  return { title: "Limits" };
}
