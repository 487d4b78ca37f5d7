// timeledger.js: the Timeback activity client for browsers. A plain ES module, no dependencies.
//
//   import { createClient } from "/api/timeback/timeledger.js";
//   const timeback = createClient();                       // baseURL defaults to where this file is served
//   const activity = timeback.activity.start({ id: "fractions-1", name: "Fractions 1",
//                                              course: { subject: "Math", grade: 3 } });
//   await activity.end({ xpEarned: 12, totalQuestions: 10, correctQuestions: 8 });
//
// Time is measured in heartbeat windows (15 s by default) split into active and paused
// milliseconds; the tab being hidden counts as paused. Windows go to `{baseURL}/activity/heartbeat`,
// completions to `{baseURL}/activity/submit`; the learner is whoever the backend says is signed in.

const DEFAULT_TIME = Object.freeze({
  heartbeatIntervalMs: 15000,
  hiddenTimeoutMs: 600000,
  retryAttempts: 3,
});
const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 30000;
const MAX_PENDING_WINDOWS = 100;
const METRIC_NAMES = ["xpEarned", "totalQuestions", "correctQuestions", "masteredUnits", "pctComplete"];
const COUNT_METRICS = ["totalQuestions", "correctQuestions", "masteredUnits"];
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The wire layer's bounds (timeledger/caliper/bounds.py, docs/bounds.md); a test holds them equal.
const MAX_WINDOW_MS = 86400000;
const WINDOW_SLACK_MS = 1000;
const MAX_XP = 1000000;
const MAX_COUNT = 1000000;
const MAX_PCT = 100;

/** An error from the client or the backend: `code` as in the adapter protocol, `details.field`. */
export class TimebackError extends Error {
  constructor(message, { code = "ERROR", status = null, details = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TimebackError";
    this.code = code;
    this.status = status;
    this.details = details;
  }

  get field() {
    return this.details ? this.details.field : undefined;
  }

  /** Worth sending again: the network, a timeout, throttling or a server-side failure. */
  get retryable() {
    return this.status === null || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

function invalid(field, message) {
  return new TimebackError(`Invalid ${field}: ${message}`, {
    code: "INVALID_PAYLOAD",
    details: { field, message },
  });
}

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function isCount(value) {
  return isNumber(value) && Number.isInteger(value) && value >= 0;
}

function given(value) {
  return value !== undefined && value !== null;
}

/**
 * The completion metric rules, exactly as the server states them: returns the first problem as
 * `{ field, message }`, or null when the metrics are fine.
 */
export function validateMetrics(metrics) {
  if (metrics === null || typeof metrics !== "object" || Array.isArray(metrics)) {
    return { field: "metrics", message: "Expected object" };
  }
  for (const key of Object.keys(metrics)) {
    if (!METRIC_NAMES.includes(key)) {
      return {
        field: `metrics.${key}`,
        message: `Unknown metric '${key}'; expected one of: ${METRIC_NAMES.join(", ")}`,
      };
    }
  }
  const xp = metrics.xpEarned;
  if (!given(xp)) return { field: "metrics.xpEarned", message: "xpEarned is required." };
  if (!isNumber(xp)) return { field: "metrics.xpEarned", message: "Expected a number." };
  if (xp < -MAX_XP || xp > MAX_XP) {
    return { field: "metrics.xpEarned", message: `xpEarned must be a number from ${-MAX_XP} to ${MAX_XP}.` };
  }
  for (const name of COUNT_METRICS) {
    if (given(metrics[name]) && !isCount(metrics[name])) {
      return { field: `metrics.${name}`, message: `${name} must be a non-negative integer.` };
    }
    if (given(metrics[name]) && metrics[name] > MAX_COUNT) {
      return { field: `metrics.${name}`, message: `${name} must be at most ${MAX_COUNT}.` };
    }
  }
  const total = metrics.totalQuestions;
  const correct = metrics.correctQuestions;
  if (given(total) !== given(correct)) {
    return {
      field: "metrics",
      message: "totalQuestions and correctQuestions must be provided together.",
    };
  }
  if (given(total) && correct > total) {
    return {
      field: "metrics.correctQuestions",
      message: "correctQuestions cannot exceed totalQuestions.",
    };
  }
  const pct = metrics.pctComplete;
  if (given(pct) && (!isNumber(pct) || pct < 0 || pct > MAX_PCT)) {
    return { field: "metrics.pctComplete", message: `pctComplete must be a number from 0 to ${MAX_PCT}.` };
  }
  return null;
}

/**
 * The time rules, exactly as the adapter states them: a window (`startMs..endMs`, or none) of at
 * most a day holds at most its length plus 1 s (a day without a window). `amounts` are
 * `[field, ms]` pairs; returns the first problem as `{ field, message }`, or null.
 */
function timeProblem(startMs, endMs, amounts) {
  let limit = MAX_WINDOW_MS;
  if (startMs !== null) {
    if (endMs - startMs > MAX_WINDOW_MS) {
      return { field: "endedAt", message: `A window may span at most 24 hours; this one spans ${endMs - startMs} ms` };
    }
    limit = endMs - startMs + WINDOW_SLACK_MS;
  }
  let total = 0;
  for (const [field, ms] of amounts) {
    total += ms;
    if (total > limit) {
      const message = startMs === null
        ? `Time without a start may total at most ${MAX_WINDOW_MS} ms (24 hours) across its items`
        : `Time may total at most the window's length plus ${WINDOW_SLACK_MS} ms (${limit} ms here)`;
      return { field, message };
    }
  }
  return null;
}

function newRunId() {
  const cryptoApi = globalThis.crypto;
  if (cryptoApi && typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  cryptoApi.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function checkText(value, field) {
  if (!given(value)) throw invalid(field, "Required");
  if (typeof value !== "string") throw invalid(field, "Expected string");
  if (!value.trim()) throw invalid(field, "Expected non-empty string");
  return value;
}

function checkCourse(course) {
  if (!given(course)) throw invalid("course", "Required");
  if (typeof course !== "object" || Array.isArray(course)) throw invalid("course", "Expected object");
  if (given(course.code)) return { code: checkText(course.code, "course.code") };
  if (!given(course.subject)) throw invalid("course.subject", "Required");
  if (typeof course.subject !== "string") throw invalid("course.subject", "Expected string");
  if (!given(course.grade)) throw invalid("course.grade", "Required");
  if (!Number.isInteger(course.grade)) throw invalid("course.grade", "Expected integer");
  return { subject: course.subject, grade: course.grade };
}

function checkTimeOptions(time) {
  if (time === false) return null;
  if (!given(time) || time === true) return { ...DEFAULT_TIME };
  if (typeof time !== "object") throw invalid("time", "Expected an object of time options, or false");
  const merged = { ...DEFAULT_TIME };
  const known = Object.keys(DEFAULT_TIME);
  for (const [key, value] of Object.entries(time)) {
    if (!known.includes(key)) {
      throw invalid(`time.${key}`, `Unknown time option; expected one of: ${known.join(", ")}`);
    }
    if (value === undefined) continue;
    if (key === "hiddenTimeoutMs" && value === null) {
      merged[key] = null; // never stop on a hidden tab
    } else if (key === "retryAttempts" && !isCount(value)) {
      throw invalid(`time.${key}`, "Expected nonnegative integer");
    } else if (key !== "retryAttempts" && !(isNumber(value) && value > 0)) {
      throw invalid(`time.${key}`, "Expected a positive number");
    } else {
      merged[key] = value;
    }
  }
  return merged;
}

function safely(callback, ...args) {
  if (typeof callback !== "function") return;
  try {
    callback(...args);
  } catch (error) {
    console.error("timeledger: a callback threw", error);
  }
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function iso(ms) {
  return new Date(ms).toISOString();
}

/** One tracked run of one activity. Create it with `client.activity.start(...)`. */
export class Activity {
  constructor(client, options) {
    this._client = client;
    this.id = checkText(options.id, "id");
    this.name = checkText(options.name, "name");
    this.course = checkCourse(options.course);
    if (given(options.runId) && (typeof options.runId !== "string" || !UUID_PATTERN.test(options.runId))) {
      throw invalid("runId", "Expected UUID");
    }
    this.runId = given(options.runId) ? options.runId.toLowerCase() : newRunId();
    this.time = checkTimeOptions(options.time);
    this.process = options.process;
    this._callbacks = {
      onError: options.onError,
      onPause: options.onPause,
      onResume: options.onResume,
      onFlush: options.onFlush,
    };
    const now = Date.now();
    this.startedAt = new Date(now);
    this._windowStart = now;
    this._segmentStart = now;
    this._activeMs = 0;
    this._pausedMs = 0;
    this._reportedActiveMs = 0;
    this._manualPause = false;
    this._hidden = false;
    this._pausedSince = null;
    this._suspended = false;
    this._stopped = this.time === null;
    this._ended = false;
    this._endedAt = null;
    this._ending = null;
    this._pending = [];
    this._sending = Promise.resolve();
    this._heartbeatTimer = null;
    this._watchdogTimer = null;
    this._listeners = [];
    if (this.time !== null) {
      this._listen();
      this._scheduleHeartbeat();
    }
  }

  // ---- state -----------------------------------------------------------------------------------
  get isPaused() {
    return this._suspended || this._manualPause || this._hidden;
  }

  /** True once `end()` has finished (and, with metrics, the completion was accepted). */
  get isEnded() {
    return this._ended;
  }

  /** Active milliseconds of the open window. */
  get elapsedMs() {
    if (this._stopped || this._suspended) return 0;
    const running = this.isPaused ? 0 : Date.now() - this._segmentStart;
    return this._activeMs + running;
  }

  /** Active milliseconds of every window so far, the open one included. */
  get totalActiveMs() {
    return this._reportedActiveMs + this.elapsedMs;
  }

  // ---- controls --------------------------------------------------------------------------------
  /** Count time as paused from now (a modal, a menu) until `resume()`. */
  pause() {
    this._change(() => {
      this._manualPause = true;
    });
  }

  /** Count time as active again (while the tab is visible). */
  resume() {
    this._change(() => {
      this._manualPause = false;
    });
  }

  /**
   * End the activity: send the open window, then (with metrics) the completion. `pctComplete`
   * among the metrics travels at the top level of the submit body. `options.time` =
   * `{ active, inactive }` (ms) replaces the tracked open window in the final time report.
   */
  end(metrics, options = {}) {
    const completing = given(metrics);
    if (completing) {
      const problem = validateMetrics(metrics);
      if (problem) return Promise.reject(invalid(problem.field, problem.message));
    }
    const time = options.time;
    if (given(time)) {
      if (typeof time !== "object") return Promise.reject(invalid("time", "Expected { active, inactive }"));
      for (const key of ["active", "inactive"]) {
        const value = time[key];
        if ((key === "active" || given(value)) && !(isNumber(value) && value >= 0)) {
          return Promise.reject(invalid(`time.${key}`, "Expected a nonnegative number of milliseconds"));
        }
      }
      const problem = timeProblem(null, 0, [["time.active", time.active], ["time.inactive", time.inactive || 0]]);
      if (problem) return Promise.reject(invalid(problem.field, problem.message));
    }
    if (this._ended && !completing) return Promise.resolve();
    if (this._ended) {
      return Promise.reject(new TimebackError("This activity has already ended", { code: "ACTIVITY_ENDED" }));
    }
    if (this._ending) {
      // An end() is under way: a time-only end waits for it; a completion goes after it.
      const previous = this._ending;
      if (!completing) return previous.then(() => undefined, () => undefined);
      return previous.then(() => this.end(metrics), () => this.end(metrics));
    }
    if (this._endedAt === null) this._stop(time);
    const sent = this._sending;
    const ending = (async () => {
      await sent;
      if (completing) await this._submit(metrics);
      this._ended = true;
    })();
    this._ending = ending;
    const settle = () => {
      if (this._ending === ending) this._ending = null;
    };
    ending.then(settle, settle);
    return ending;
  }

  // ---- time accounting -------------------------------------------------------------------------
  _settle(now) {
    const span = Math.max(now - this._segmentStart, 0);
    if (this.isPaused) this._pausedMs += span;
    else this._activeMs += span;
    this._segmentStart = now;
  }

  _closeWindow(now, override) {
    if (!override) this._settle(now);
    const elapsedMs = override ? Math.round(override.active) : this._activeMs;
    const pausedMs = override ? Math.round(override.inactive || 0) : this._pausedMs;
    let start = this._windowStart;
    if (override && elapsedMs + pausedMs > now - start + WINDOW_SLACK_MS) {
      start = now - (elapsedMs + pausedMs); // time measured elsewhere: its window ends now
    }
    const window = { startedAt: iso(start), endedAt: iso(now), elapsedMs, pausedMs };
    this._windowStart = now;
    this._segmentStart = now;
    this._activeMs = 0;
    this._pausedMs = 0;
    if (window.elapsedMs === 0 && window.pausedMs === 0) return null;
    const problem = timeProblem(start, now, [["elapsedMs", elapsedMs], ["pausedMs", pausedMs]]);
    if (problem) {
      // A window past the bounds (a machine asleep for a day) is refused here, not sent.
      const error = invalid(problem.field, problem.message);
      safely(this._callbacks.onError, error, { type: "heartbeat", runId: this.runId, window });
      return null;
    }
    this._reportedActiveMs += window.elapsedMs;
    return window;
  }

  _change(mutate) {
    if (this._stopped) {
      mutate();
      return;
    }
    const now = Date.now();
    const wasPaused = this.isPaused;
    if (!this._suspended) this._settle(now);
    mutate();
    const paused = this._manualPause || this._hidden;
    if (this._suspended) {
      if (!paused) this._wake(now);
      return;
    }
    if (paused && !wasPaused) {
      this._pausedSince = now;
      this._armWatchdog();
    } else if (!paused && wasPaused) {
      this._pausedSince = null;
      this._cancel("_watchdogTimer");
    }
  }

  _wake(now) {
    this._suspended = false;
    this._pausedSince = null;
    this._windowStart = now;
    this._segmentStart = now;
    this._activeMs = 0;
    this._pausedMs = 0;
    this._scheduleHeartbeat();
    safely(this._callbacks.onResume);
  }

  // ---- timers ----------------------------------------------------------------------------------
  _cancel(name) {
    if (this[name] !== null) {
      clearTimeout(this[name]);
      this[name] = null;
    }
  }

  _scheduleHeartbeat() {
    this._cancel("_heartbeatTimer");
    this._heartbeatTimer = setTimeout(() => this._beat(), this.time.heartbeatIntervalMs);
  }

  _beat() {
    this._heartbeatTimer = null;
    if (this._stopped || this._suspended) return;
    const window = this._closeWindow(Date.now());
    this._scheduleHeartbeat();
    this._queue(window);
  }

  _armWatchdog() {
    this._cancel("_watchdogTimer");
    if (this.time === null || this.time.hiddenTimeoutMs === null || this._pausedSince === null) return;
    const due = this._pausedSince + this.time.hiddenTimeoutMs;
    this._watchdogTimer = setTimeout(() => this._timeout(), Math.max(due - Date.now(), 0));
  }

  _timeout() {
    this._watchdogTimer = null;
    if (this._stopped || this._suspended || !this.isPaused) return;
    const window = this._closeWindow(Date.now());
    this._cancel("_heartbeatTimer");
    this._suspended = true;
    this._queue(window);
    safely(this._callbacks.onPause);
  }

  _stop(timeOverride) {
    const now = Date.now();
    let window = null;
    if (this.time !== null && !this._suspended) {
      window = this._closeWindow(now, timeOverride);
    } else if (timeOverride) {
      if (this._suspended) this._windowStart = now;
      window = this._closeWindow(now, timeOverride);
    }
    this._endedAt = now;
    this._stopped = true;
    this._cancel("_heartbeatTimer");
    this._cancel("_watchdogTimer");
    for (const [target, type, handler] of this._listeners) target.removeEventListener(type, handler);
    this._listeners = [];
    this._client._release(this);
    this._queue(window);
  }

  // ---- page lifecycle --------------------------------------------------------------------------
  _on(target, type, handler) {
    if (!target || typeof target.addEventListener !== "function") return;
    target.addEventListener(type, handler);
    this._listeners.push([target, type, handler]);
  }

  _listen() {
    const doc = globalThis.document;
    if (doc) {
      this._hidden = doc.visibilityState === "hidden";
      if (this._hidden) this._pausedSince = Date.now();
      if (this._hidden) this._armWatchdog();
      this._on(doc, "visibilitychange", () => {
        const hidden = doc.visibilityState === "hidden";
        if (hidden !== this._hidden) {
          this._change(() => {
            this._hidden = hidden;
          });
        }
      });
    }
    this._on(globalThis, "pagehide", () => this._pageHide());
    this._on(globalThis, "pageshow", (event) => {
      if (event.persisted) this._pageShow();
    });
  }

  _pageHide() {
    if (this._stopped) return;
    if (!this._suspended) {
      const window = this._closeWindow(Date.now());
      if (window) this._pending.push(window);
    }
    this._cancel("_heartbeatTimer");
    this._cancel("_watchdogTimer");
    // Everything not yet acknowledged leaves now; a window that was also in flight is
    // answered as a duplicate (same runId and startedAt), so nothing counts twice.
    for (const window of this._pending.splice(0)) this._client._beacon("heartbeat", this._body(window));
  }

  _pageShow() {
    if (this._stopped) return;
    const now = Date.now();
    this._windowStart = now;
    this._segmentStart = now;
    this._activeMs = 0;
    this._pausedMs = 0;
    if (!this._suspended) this._scheduleHeartbeat();
  }

  // ---- delivery --------------------------------------------------------------------------------
  _body(window) {
    const body = { id: this.id, name: this.name, course: this.course, runId: this.runId, ...window };
    if (given(this.process)) body.process = this.process;
    return body;
  }

  _retryAttempts() {
    return this.time === null ? DEFAULT_TIME.retryAttempts : this.time.retryAttempts;
  }

  _queue(window) {
    if (window === null) return;
    this._pending.push(window);
    this._pending.splice(0, Math.max(this._pending.length - MAX_PENDING_WINDOWS, 0));
    this._sending = this._sending.then(() => this._drain());
  }

  _forget(window) {
    const index = this._pending.indexOf(window);
    if (index >= 0) this._pending.splice(index, 1);
  }

  /** Send pending windows oldest first; on an outage keep them for the next heartbeat. */
  async _drain() {
    while (this._pending.length > 0) {
      const window = this._pending[0];
      try {
        await this._client._post("heartbeat", this._body(window), this._retryAttempts());
        this._forget(window);
        safely(this._callbacks.onFlush, window.elapsedMs);
      } catch (error) {
        safely(this._callbacks.onError, error, { type: "heartbeat", runId: this.runId, window });
        if (error instanceof TimebackError && !error.retryable) {
          this._forget(window);
          continue;
        }
        return;
      }
    }
  }

  async _submit(metrics) {
    const { pctComplete, ...rest } = metrics;
    const body = {
      id: this.id,
      name: this.name,
      course: this.course,
      runId: this.runId,
      endedAt: iso(this._endedAt),
      metrics: rest,
    };
    if (given(pctComplete)) body.pctComplete = pctComplete;
    if (given(this.process)) body.process = this.process;
    try {
      await this._client._post("submit", body, this._retryAttempts());
    } catch (error) {
      safely(this._callbacks.onError, error, { type: "submit", runId: this.runId });
      throw error;
    }
  }
}

async function errorFrom(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  const error = payload && typeof payload === "object" ? payload.error : null;
  if (error && typeof error === "object") {
    return new TimebackError(error.message || `HTTP ${response.status}`, {
      code: error.code || "HTTP_ERROR",
      status: response.status,
      details: error.details || null,
    });
  }
  return new TimebackError(`HTTP ${response.status}`, { code: "HTTP_ERROR", status: response.status });
}

function retryDelay(attempt, response) {
  const header = response && response.headers ? response.headers.get("Retry-After") : null;
  const seconds = header === null ? NaN : Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, RETRY_CAP_MS);
  return Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_CAP_MS);
}

class Client {
  constructor({ baseURL, fetch: fetchImpl, headers, credentials } = {}) {
    const here = new URL(".", import.meta.url).href;
    const origin = globalThis.location ? globalThis.location.href : here;
    this.baseURL = new URL(baseURL === undefined ? here : baseURL, origin).href.replace(/\/+$/, "");
    this._fetch = fetchImpl || globalThis.fetch.bind(globalThis);
    this._headers = headers;
    this._credentials = credentials || "same-origin";
    this._current = null;
    const client = this;
    this.activity = {
      /** Start tracking an activity; throws while another one is in progress. */
      start(options = {}) {
        return client._start(options);
      },
      /** The running activity, or null. */
      get current() {
        return client._current;
      },
    };
  }

  _start(options) {
    if (this._current !== null) {
      throw new TimebackError("Another activity is already in progress", {
        code: "ACTIVITY_IN_PROGRESS",
      });
    }
    const activity = new Activity(this, options);
    this._current = activity;
    return activity;
  }

  _release(activity) {
    if (this._current === activity) this._current = null;
  }

  _url(route) {
    return `${this.baseURL}/activity/${route}`;
  }

  async _headersFor() {
    const extra = typeof this._headers === "function" ? await this._headers() : this._headers;
    return { "Content-Type": "application/json", ...(extra || {}) };
  }

  /** POST a body, retrying the network and 408/429/5xx up to `retryAttempts` times with backoff. */
  async _post(route, body, retryAttempts) {
    const payload = JSON.stringify(body);
    for (let attempt = 1; ; attempt += 1) {
      let response = null;
      let error;
      try {
        response = await this._fetch(this._url(route), {
          method: "POST",
          headers: await this._headersFor(),
          body: payload,
          credentials: this._credentials,
        });
        if (response.ok) return response;
        error = await errorFrom(response);
      } catch (cause) {
        error = cause instanceof TimebackError
          ? cause
          : new TimebackError(`Network error: ${cause && cause.message ? cause.message : cause}`, {
            code: "NETWORK_ERROR",
            cause,
          });
      }
      if (!error.retryable || attempt > retryAttempts) throw error;
      await wait(retryDelay(attempt, response));
    }
  }

  /** Send a body as the page goes away: a beacon (text/plain), or a keepalive fetch. */
  _beacon(route, body) {
    const payload = JSON.stringify(body);
    const beacon = globalThis.navigator && globalThis.navigator.sendBeacon;
    if (!this._headers && typeof beacon === "function") {
      try {
        if (beacon.call(globalThis.navigator, this._url(route), payload)) return;
      } catch {
        // fall through to a keepalive fetch
      }
    }
    Promise.resolve(this._headersFor())
      .then((headers) => this._fetch(this._url(route), {
        method: "POST",
        headers,
        body: payload,
        credentials: this._credentials,
        keepalive: true,
      }))
      .catch(() => {});
  }
}

/**
 * A client for one page. Options: `baseURL` (default: where this file is served from),
 * `fetch`, `headers` (an object, or a function returning one, e.g. a bearer token), and
 * `credentials` (default "same-origin"). With custom headers the last window leaves the page
 * by keepalive fetch instead of sendBeacon, since beacons cannot carry headers.
 */
export function createClient(options = {}) {
  return new Client(options);
}
