// Limits: what the wallet's KYC tier allows, used and left, and the full-KYC upgrade.

import { ApiError, api, sleep } from "./api.js";
import { h, heading, replace, spinner } from "./dom.js";
import { rupees } from "./format.js";
import { Fields, busy, errorText, field, formError } from "./forms.js";

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
};
const PERIODS = {
  balance: "The most your wallet can hold at any time.",
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

function limitRow(limit) {
  const percent = usedPercent(limit.used, limit.limit);
  const fill = h("span", { class: "limit-fill" });
  fill.style.width = `${percent}%`; // through the CSSOM: the page's CSP refuses inline styles
  const tone = percent >= 100 ? "full" : percent >= 80 ? "near" : "ok";
  const title = LIMIT_NAMES[limit.name] || limit.name;
  return h(
    "li",
    { class: "limit", dataset: { limit: limit.name } },
    h(
      "div",
      { class: "limit-head" },
      h("span", { class: "limit-name", text: title }),
      h("span", { class: "limit-left", text: `${rupees(limit.left)} left` }),
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
        "aria-valuetext": `${rupees(limit.used)} of ${rupees(limit.limit)} used`,
      },
      fill,
    ),
    h(
      "p",
      { class: "limit-detail" },
      h("span", { text: `${rupees(limit.used)} used of ${rupees(limit.limit)}` }),
      h("span", { class: "hint", text: PERIODS[limit.period] || "" }),
    ),
  );
}

function limitsCard(limits) {
  const tier = TIERS[limits.tier] || TIERS.MINIMUM;
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
    h("ul", { class: "limits" }, ...limits.limits.map(limitRow)),
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
      kycSlot,
    ),
  );

  const showLimits = async () => {
    try {
      const limits = await api("/api/wallets/me/limits", { signal: ctx.signal });
      replace(limitsSlot, limitsCard(limits));
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(limitsSlot, h("p", { class: "form-error", role: "alert", text: errorText(error) }));
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
