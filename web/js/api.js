// Talking to the gateway: the session token, problem+json errors, offline and outage signals.

const TOKEN_KEY = "tijori.token";
const EXPIRES_KEY = "tijori.expires_at";

/** Events: "offline", "online", "trouble", "recovered", "unauthorized". */
export const apiEvents = new EventTarget();

function emit(name, detail) {
  apiEvents.dispatchEvent(new CustomEvent(name, { detail }));
}

export const session = {
  get token() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const expiresAt = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
    if (token && expiresAt && Date.now() >= expiresAt) {
      this.clear();
      return null;
    }
    return token;
  },
  save({ access_token: token, expires_in: expiresIn }) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (expiresIn) sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + expiresIn * 1000));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
  },
};

/** An answer of the API that is not a success: carries the problem's `code` and field errors. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || "unknown_error";
    this.problem = problem;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    const retryAfter = Number.parseInt(headers.get("Retry-After") || "", 10);
    this.retryAfter = Number.isFinite(retryAfter) ? retryAfter : null;
  }
}

/** The request never got an answer: no network, or the server is unreachable. */
export class OfflineError extends Error {
  constructor(cause) {
    super("You are offline");
    this.name = "OfflineError";
    this.cause = cause;
  }
}

const UNAUTHORIZED_CODES = new Set(["token_expired", "invalid_token", "unauthorized"]);
const TROUBLE_STATUSES = new Set([502, 503, 504]);

/**
 * Call the API. `json` sends a JSON body, `form` an urlencoded one. Resolves to the
 * parsed body; rejects with ApiError (an answer) or OfflineError (no answer).
 */
export async function api(path, { method = "GET", json, form, headers = {}, auth = true, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, cache: "no-store" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  if (auth) {
    const token = session.token;
    if (!token) {
      emit("unauthorized", { code: "token_expired" });
      throw new ApiError(401, { code: "unauthorized", detail: "Please log in." }, new Headers());
    }
    init.headers.Authorization = `Bearer ${token}`;
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    emit("offline");
    throw new OfflineError(error);
  }
  emit("online");

  const type = response.headers.get("Content-Type") || "";
  let body = null;
  if (type.includes("json")) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (response.ok) {
    emit("recovered");
    return body;
  }
  const problem = body && typeof body === "object" ? body : { detail: response.statusText };
  if (!problem.code && response.status === 503) problem.code = "service_unavailable";
  const error = new ApiError(response.status, problem, response.headers);
  if (TROUBLE_STATUSES.has(response.status)) emit("trouble", error);
  else emit("recovered");
  if (auth && response.status === 401 && UNAUTHORIZED_CODES.has(error.code)) {
    session.clear();
    emit("unauthorized", { code: error.code });
  }
  throw error;
}

/** A random idempotency key; falls back to getRandomValues where randomUUID is missing. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Wait `ms`, or less if `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        window.clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Whether an error means "we could not reach Tijori" rather than "Tijori said no". */
export function isTransient(error) {
  return error instanceof OfflineError || (error instanceof ApiError && TROUBLE_STATUSES.has(error.status));
}
