// Money, dates and codes as a person reads them.

const GROUPING = new Intl.NumberFormat("en-IN");
const MINUS = "\u2212"; // a real minus sign, not a hyphen

/**
 * "100000.5" or "-25.50" -> "₹1,00,000.50" / "−₹25.50". Works on the decimal
 * string itself (through BigInt), so no amount is ever rounded by floating point.
 */
export function rupees(amount, { sign = false } = {}) {
  const text = String(amount ?? "").trim();
  const match = /^([+-]?)(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return text ? `₹${text}` : "₹—";
  const [, signPart, whole, fraction = ""] = match;
  const formatted = `₹${GROUPING.format(BigInt(whole))}.${fraction.padEnd(2, "0")}`;
  const isZero = /^0+$/.test(whole) && /^0*$/.test(fraction);
  if (signPart === "-" && !isZero) return `${MINUS}${formatted}`;
  if (sign && !isZero) return `+${formatted}`;
  return formatted;
}

/** Every "₹100000.00" in a sentence (an API message) written as rupees() writes it. */
export function groupRupees(text) {
  return String(text ?? "").replace(/₹(\d+(?:,\d+)*(?:\.\d{1,2})?)(?![\d.])/g, (_, amount) =>
    rupees(amount.replaceAll(",", "")),
  );
}

const AMOUNT_SHAPE = /^\d+(\.\d{1,2})?$/;
const SIGNED_NUMBER = /^[-\u2212]\d*\.?\d+$/;

/**
 * Why a typed amount (spaces, commas and ₹ already taken out) is not one we can send,
 * or null: "-5" is below ₹0, not a question of decimals.
 */
export function amountProblem(amount, example = "250 or 99.50") {
  if (!amount) return "Enter an amount.";
  if (SIGNED_NUMBER.test(amount)) return "Enter an amount above ₹0.";
  if (!AMOUNT_SHAPE.test(amount)) return `Enter an amount in rupees, with at most two decimals, like ${example}.`;
  if (/^0*(\.0*)?$/.test(amount)) return "Enter an amount above ₹0.";
  return null;
}

/** What a refusal for `insufficient_funds` says is available ("12.50"), or null. */
export function availableAmount(problem) {
  if (typeof problem?.available === "string" && AMOUNT_SHAPE.test(problem.available)) return problem.available;
  const match = /₹([\d,]+(?:\.\d{1,2})?) is available/.exec(problem?.detail || "");
  return match ? match[1].replaceAll(",", "") : null;
}

/** A signed amount as the owner of the list sees it: sent is −₹, received is +₹. */
export function signedRupees(amount, direction) {
  const plain = rupees(amount);
  return direction === "SENT" ? `${MINUS}${plain}` : `+${plain}`;
}

const REASONS = {
  insufficient_funds: "Not enough balance",
  wallet_frozen: "Your wallet is frozen",
  wallet_not_found: "The receiver's wallet is not ready",
  limit_exceeded: "Over a limit of the wallet",
};
// what passing each limit means: the one wording of the limits, for payments (here) and
// for top-ups and withdrawals (money.js)
const LIMITS = {
  daily_amount: "it would pass your daily limit on the value of your payments",
  daily_count: "it would pass your daily limit on the number of your payments",
  monthly_p2p: "it would pass this month's limit on money sent to people",
  monthly_load: "it would pass this month's limit on money added",
  yearly_load: "it would pass this financial year's limit on money added",
  balance_cap: "it would take your wallet above its balance limit",
  receiver_balance_cap: "it would take the receiver's wallet above its balance limit",
  kyc_upgrade_deadline: "the receiving wallet was not upgraded to full KYC in time, so it takes no more money",
};

/** `text` with its first letter a capital. */
export function capitalized(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** Which `limit` a refusal or a FAILED payment passed, as a clause ("it would pass …"), or null. */
export function limitReason(limit) {
  return LIMITS[limit] || null;
}

/** A FAILED transaction's `reason` code (and `limit`, when it passed one) in words. */
export function reasonText(code, limit = null) {
  if (!code) return "Something went wrong";
  const over = code === "limit_exceeded" ? limitReason(limit) : null;
  if (over) return capitalized(over);
  return REASONS[code] || code;
}

// for when what is left of a daily limit is left ("₹10.00 is left today")
const LEFT_FOR = { daily_amount: " today", daily_count: " today" };

/**
 * A refusal for `limit_exceeded` in words, with what the server says is `left` of the
 * limit: rupees ("12.50"), or a number of payments for `daily_count`.
 */
export function limitText(problem) {
  const over = reasonText("limit_exceeded", problem?.limit);
  const left = problem?.left;
  const when = LEFT_FOR[problem?.limit] || "";
  if (problem?.limit === "daily_count" && Number.isInteger(left) && left >= 0) {
    const payments = left === 0 ? "no payment is" : left === 1 ? "1 payment is" : `${left} payments are`;
    return `${over}: ${payments} left${when}.`;
  }
  if (typeof left === "string" && AMOUNT_SHAPE.test(left)) return `${over}: ${rupees(left)} is left${when}.`;
  return `${over}.`;
}

const STATUS_LABELS = { PENDING: "Pending", SUCCESS: "Success", FAILED: "Failed", SENT: "Delivered" };

export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || "");
}

const DATE_TIME = new Intl.DateTimeFormat("en-IN", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const SHORT_DATE_TIME = new Intl.DateTimeFormat("en-IN", {
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
});

function parseDate(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function dateTime(value) {
  const date = parseDate(value);
  return date ? DATE_TIME.format(date) : "";
}

export function shortDateTime(value) {
  const date = parseDate(value);
  return date ? SHORT_DATE_TIME.format(date) : "";
}

/** The other side of a transaction, as its owner sees it. */
export function counterpart(transaction) {
  const party = transaction.direction === "SENT" ? transaction.receiver : transaction.sender;
  if (party && typeof party === "object") return party.name || "Unknown";
  return party ? String(party) : "Unknown";
}

/** Minutes (or seconds) until a Retry-After in seconds, in words. */
export function waitText(seconds) {
  if (!seconds || seconds <= 0) return "a little while";
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  if (seconds < 3600) {
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  }
  const hours = Math.ceil(seconds / 3600);
  return `${hours} hour${hours === 1 ? "" : "s"}`;
}
