// Talking to the gateway: the session's tokens, problem+json errors, offline and outage signals.

const TOKEN_KEY = "tijori.token";
const EXPIRES_KEY = "tijori.expires_at";
const REFRESH_KEY = "tijori.refresh_token";
const SESSION_KEY = "tijori.session_id";
// an access token this close to its expiry is refreshed before it is sent
const REFRESH_EARLY_MS = 30_000;

/** Events: "offline", "online", "trouble", "recovered", "unauthorized". */
export const apiEvents = new EventTarget();

function emit(name, detail) {
  apiEvents.dispatchEvent(new CustomEvent(name, { detail }));
}

/**
 * The log-in session of this tab: a short-lived access token, the refresh token that
 * renews it (single use: each refresh hands out the next one) and the session's id.
 */
export const session = {
  /** The access token, unless it expires within REFRESH_EARLY_MS. */
  get token() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const expiresAt = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
    if (token && expiresAt && Date.now() >= expiresAt - REFRESH_EARLY_MS) return null;
    return token;
  },
  get refreshToken() {
    return sessionStorage.getItem(REFRESH_KEY);
  },
  get id() {
    return sessionStorage.getItem(SESSION_KEY);
  },
  /** Whether this tab is logged in: it holds an access token or a way to renew one. */
  get signedIn() {
    return Boolean(this.token || this.refreshToken);
  },
  /** Whether this tab had a session that has since expired (nothing left to renew it). */
  get ended() {
    return Boolean(sessionStorage.getItem(TOKEN_KEY)) && !this.signedIn;
  },
  save({ access_token: token, expires_in: expiresIn, refresh_token: refreshToken, session_id: id }) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (expiresIn) sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + expiresIn * 1000));
    if (refreshToken) sessionStorage.setItem(REFRESH_KEY, refreshToken);
    if (id) sessionStorage.setItem(SESSION_KEY, id);
  },
  clear() {
    for (const key of [TOKEN_KEY, EXPIRES_KEY, REFRESH_KEY, SESSION_KEY]) sessionStorage.removeItem(key);
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

const UNAUTHORIZED_CODES = new Set(["token_expired", "invalid_token", "unauthorized", "session_ended"]);
// an access token refused for these is renewed (once) and the request sent again
const RENEWABLE_CODES = new Set(["token_expired", "invalid_token"]);
const TROUBLE_STATUSES = new Set([502, 503, 504]);

let refreshing = null;

/**
 * Exchange the refresh token for new tokens; resolves to whether that worked. One
 * exchange at a time: a refresh token is single use, and sending it twice would end
 * the session (the server takes the second for a thief's).
 */
export function refreshSession() {
  if (!refreshing) {
    refreshing = exchangeRefreshToken().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function exchangeRefreshToken() {
  const refreshToken = session.refreshToken;
  if (!refreshToken) return false;
  let response;
  try {
    response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
      cache: "no-store",
    });
  } catch (error) {
    emit("offline");
    throw new OfflineError(error);
  }
  if (response.ok) {
    session.save(await response.json());
    return true;
  }
  if (TROUBLE_STATUSES.has(response.status)) {
    // the refresh token was not used up: keep it for the next try
    const problem = await response.json().catch(() => ({ code: "service_unavailable" }));
    const error = new ApiError(response.status, problem || {}, response.headers);
    emit("trouble", error);
    throw error;
  }
  session.clear(); // used, expired or of an ended session: log in again
  return false;
}

/**
 * Call the API. `json` sends a JSON body, `form` an urlencoded one. Resolves to the
 * parsed body; rejects with ApiError (an answer) or OfflineError (no answer). An
 * access token about to expire is refreshed first; one refused as expired is
 * refreshed and the request sent once more. `quiet` keeps a 401 from logging out.
 */
export async function api(path, options = {}) {
  const { method = "GET", json, form, headers = {}, auth = true, signal, quiet = false, retried = false } = options;
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, cache: "no-store" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  if (auth) {
    if (!session.token && session.refreshToken) await refreshSession();
    const token = session.token;
    if (!token) {
      session.clear();
      if (!quiet) emit("unauthorized", { code: "token_expired" });
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
    } catch (error) {
      // a screen left while its answer was still arriving: the caller is gone, not the answer wrong
      if (error?.name === "AbortError" || signal?.aborted) throw error;
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
  if (auth && response.status === 401 && RENEWABLE_CODES.has(error.code) && !retried) {
    if (await refreshSession()) return api(path, { ...options, retried: true });
  }
  if (auth && response.status === 401 && UNAUTHORIZED_CODES.has(error.code)) {
    session.clear();
    if (!quiet) emit("unauthorized", { code: error.code });
  }
  throw error;
}

/** Log out: end this session on the server (so its refresh token is dead), then forget it. */
export async function endSession() {
  const id = session.id;
  if (id && session.signedIn) {
    try {
      await api(`/api/sessions/${encodeURIComponent(id)}`, { method: "DELETE", quiet: true });
    } catch {
      // offline or already ended: forgetting the tokens here is all that is left to do
    }
  }
  session.clear();
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
