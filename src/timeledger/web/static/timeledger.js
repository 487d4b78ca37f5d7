// timeledger.js: the Timeback activity client for browsers. A plain ES module, no dependencies.
// This file is the source of the npm package `timeledger` (js/) and is what the web adapter
// serves; its types are JSDoc, checked by `tsc` (js/tsconfig.json), which also writes the .d.ts.
//
//   import { createClient } from "timeledger";             // or "/api/timeback/timeledger.js"
//   const timeback = createClient();                       // baseURL defaults to where this file is served
//   const activity = timeback.activity.start({ id: "fractions-1", name: "Fractions 1",
//                                              course: { subject: "Math", grade: 3 } });
//   await activity.end({ xpEarned: 12, totalQuestions: 10, correctQuestions: 8 });
//
// Time is measured in heartbeat windows (15 s by default) split into active and paused
// milliseconds; the tab being hidden counts as paused. Windows go to `{baseURL}/activity/heartbeat`,
// completions to `{baseURL}/activity/submit`; the learner is whoever the backend says is signed in.

/**
 * @typedef {{ subject: string, grade: number } | { code: string }} Course
 *   Which course: subject and grade, or a course code.
 * @typedef {object} Metrics The completion's metrics (`end(metrics)`).
 * @property {number} xpEarned Required; may be negative.
 * @property {number} [totalQuestions] With `correctQuestions`.
 * @property {number} [correctQuestions] At most `totalQuestions`.
 * @property {number} [masteredUnits] Units newly mastered in this run.
 * @property {number} [pctComplete] 0..100, sent at the top level of the submit body.
 * @typedef {object} TimeOptions How time is tracked.
 * @property {number} heartbeatIntervalMs A window is sent this often (default 15000).
 * @property {number | null} hiddenTimeoutMs Paused this long: stop until the learner is back
 *   (default 600000; null: never).
 * @property {number} retryAttempts Retries of a failed request (default 3).
 * @typedef {object} TimeWindow One heartbeat window as sent.
 * @property {string} startedAt
 * @property {string} endedAt
 * @property {number} elapsedMs Active milliseconds.
 * @property {number} pausedMs Paused or hidden milliseconds.
 * @typedef {{ type: "heartbeat", runId: string, window: TimeWindow }
 *   | { type: "submit", runId: string }} ErrorContext What failed.
 * @typedef {object} ActivityOptions What `client.activity.start` takes.
 * @property {string} id The activity's slug.
 * @property {string} name
 * @property {Course} course
 * @property {string} [runId] Resume a stored run: its UUID, or any id of the app's own (1-256
 *   printable characters, e.g. an assignment row id); default: a fresh UUID.
 * @property {boolean} [process] Passed on as the activity's `process` flag.
 * @property {Partial<TimeOptions> | boolean} [time] Time options, or false to track no time.
 * @property {(error: TimebackError, context: ErrorContext) => void} [onError]
 * @property {() => void} [onPause] The hidden timeout stopped tracking.
 * @property {() => void} [onResume] The learner is back after the hidden timeout.
 * @property {(activeMs: number) => void} [onFlush] A window was accepted.
 * @typedef {object} EndOptions
 * @property {{ active: number, inactive?: number }} [time] Ms measured elsewhere, replacing the
 *   tracked open window.
 * @typedef {object} Clock Where the client reads time and sets timers (tests pass a fake one).
 * @property {() => number} now Milliseconds since the epoch, like `Date.now`.
 * @property {(callback: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 * @typedef {Record<string, string>} HeaderMap
 * @typedef {object} ClientOptions What `createClient` takes.
 * @property {string | URL} [baseURL] Default: the folder this module was loaded from.
 * @property {typeof fetch} [fetch] Default: `globalThis.fetch`.
 * @property {HeaderMap | (() => HeaderMap | Promise<HeaderMap>)} [headers] Extra request headers.
 * @property {RequestCredentials} [credentials] Default "same-origin".
 * @property {Clock} [clock] Default: `Date.now` and the page's timers.
 * @typedef {{ field: string, message: string }} Problem
 * @typedef {object} Transport How an activity reaches the client that started it.
 * @property {(route: string, body: Record<string, unknown>, retryAttempts: number) => Promise<Response>} post
 * @property {(route: string, body: Record<string, unknown>) => void} beacon
 * @property {(activity: Activity) => void} release
 * @typedef {{ verified: boolean, timebackId?: string }} UserVerification `GET {base}/user/verify`.
 * @typedef {object} UserProfile `GET {base}/user/me`: the signed-in learner as the platform knows them.
 * @property {string} id
 * @property {string} email
 * @property {string | null} name
 * @property {{ id: string, name: string } | null} school
 * @property {number | null} grade
 * @property {{ id: string, code: string, name: string }[]} courses
 * @property {Record<string, number>} goals Daily goals (dailyXp, dailyActiveMinutes, ...).
 * @property {{ today: number, all: number }} xp
 */

/** @type {Readonly<TimeOptions>} */
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
const MAX_RUN_KEY_CHARS = 256;

/** @type {Clock} */
const PAGE_CLOCK = Object.freeze({
  now: () => Date.now(),
  setTimeout: (/** @type {() => void} */ callback, /** @type {number} */ ms) =>
    globalThis.setTimeout(callback, ms),
  clearTimeout: (/** @type {unknown} */ handle) =>
    globalThis.clearTimeout(/** @type {ReturnType<typeof setTimeout>} */ (handle)),
});

/** An error from the client or the backend: `code` as in the adapter protocol, `details.field`. */
export class TimebackError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, status?: number | null, details?: Problem | null, cause?: unknown }} [options]
   */
  constructor(message, { code = "ERROR", status = null, details = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TimebackError";
    /** @type {string} */
    this.code = code;
    /** @type {number | null} HTTP status, or null. */
    this.status = status;
    /** @type {Problem | null} */
    this.details = details;
  }

  /** @returns {string | undefined} The invalid field, when one is named. */
  get field() {
    return this.details ? this.details.field : undefined;
  }

  /** Worth sending again: the network, a timeout, throttling or a server-side failure. */
  get retryable() {
    return this.status === null || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * @param {string} field
 * @param {string} message
 */
function invalid(field, message) {
  return new TimebackError(`Invalid ${field}: ${message}`, {
    code: "INVALID_PAYLOAD",
    details: { field, message },
  });
}

/**
 * @param {unknown} value
 * @returns {value is number}
 */
function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * @param {unknown} value
 * @returns {value is number}
 */
function isCount(value) {
  return isNumber(value) && Number.isInteger(value) && value >= 0;
}

/**
 * @template T
 * @param {T} value
 * @returns {value is Exclude<T, null | undefined>}
 */
function given(value) {
  return value !== undefined && value !== null;
}

/**
 * The completion metric rules, exactly as the server states them: returns the first problem as
 * `{ field, message }`, or null when the metrics are fine.
 * @param {unknown} metrics
 * @returns {Problem | null}
 */
export function validateMetrics(metrics) {
  if (metrics === null || typeof metrics !== "object" || Array.isArray(metrics)) {
    return { field: "metrics", message: "Expected object" };
  }
  const values = /** @type {Record<string, unknown>} */ (metrics);
  for (const key of Object.keys(values)) {
    if (!METRIC_NAMES.includes(key)) {
      return {
        field: `metrics.${key}`,
        message: `Unknown metric '${key}'; expected one of: ${METRIC_NAMES.join(", ")}`,
      };
    }
  }
  const xp = values.xpEarned;
  if (!given(xp)) return { field: "metrics.xpEarned", message: "xpEarned is required." };
  if (!isNumber(xp)) return { field: "metrics.xpEarned", message: "Expected a number." };
  if (xp < -MAX_XP || xp > MAX_XP) {
    return { field: "metrics.xpEarned", message: `xpEarned must be a number from ${-MAX_XP} to ${MAX_XP}.` };
  }
  for (const name of COUNT_METRICS) {
    const count = values[name];
    if (given(count) && !isCount(count)) {
      return { field: `metrics.${name}`, message: `${name} must be a non-negative integer.` };
    }
    if (given(count) && /** @type {number} */ (count) > MAX_COUNT) {
      return { field: `metrics.${name}`, message: `${name} must be at most ${MAX_COUNT}.` };
    }
  }
  const total = values.totalQuestions;
  const correct = values.correctQuestions;
  if (given(total) !== given(correct)) {
    return {
      field: "metrics",
      message: "totalQuestions and correctQuestions must be provided together.",
    };
  }
  if (given(total) && /** @type {number} */ (correct) > /** @type {number} */ (total)) {
    return {
      field: "metrics.correctQuestions",
      message: "correctQuestions cannot exceed totalQuestions.",
    };
  }
  const pct = values.pctComplete;
  if (given(pct) && (!isNumber(pct) || pct < 0 || pct > MAX_PCT)) {
    return { field: "metrics.pctComplete", message: `pctComplete must be a number from 0 to ${MAX_PCT}.` };
  }
  return null;
}

/**
 * The time rules, exactly as the adapter states them: a window (`startMs..endMs`, or none) of at
 * most a day holds at most its length plus 1 s (a day without a window). `amounts` are
 * `[field, ms]` pairs; returns the first problem as `{ field, message }`, or null.
 * @param {number | null} startMs
 * @param {number} endMs
 * @param {Array<[string, number]>} amounts
 * @returns {Problem | null}
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

/** @returns {string} */
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

/**
 * A runId to resume: a UUID (lower-cased), or any id of the app's own within the bounds of
 * bounds.py (1-256 printable characters, not blank), sent as it is; the adapter sends it as
 * uuid5 under its sensor and keeps the string (docs/web.md).
 * @param {unknown} value
 * @returns {string}
 */
function checkRunId(value) {
  if (typeof value !== "string") throw invalid("runId", "Expected string");
  const bare = value.startsWith("urn:uuid:") ? value.slice("urn:uuid:".length) : value;
  if (UUID_PATTERN.test(bare)) return bare.toLowerCase();
  if (!value.trim()) throw invalid("runId", "Expected a UUID or a non-blank string");
  const length = [...value].length;
  if (length > MAX_RUN_KEY_CHARS) {
    throw invalid("runId", `Expected at most ${MAX_RUN_KEY_CHARS} characters; got ${length}`);
  }
  if (/[\p{C}\p{Z}]/u.test(value.replaceAll(" ", ""))) {
    throw invalid("runId", "Expected printable characters only (no control characters such as NUL)");
  }
  return value;
}

/**
 * @param {unknown} value
 * @param {string} field
 * @returns {string}
 */
function checkText(value, field) {
  if (!given(value)) throw invalid(field, "Required");
  if (typeof value !== "string") throw invalid(field, "Expected string");
  if (!value.trim()) throw invalid(field, "Expected non-empty string");
  return value;
}

/**
 * @param {unknown} given_course
 * @returns {Course}
 */
function checkCourse(given_course) {
  if (!given(given_course)) throw invalid("course", "Required");
  if (typeof given_course !== "object" || Array.isArray(given_course)) throw invalid("course", "Expected object");
  const course = /** @type {Record<string, unknown>} */ (given_course);
  if (given(course.code)) return { code: checkText(course.code, "course.code") };
  if (!given(course.subject)) throw invalid("course.subject", "Required");
  if (typeof course.subject !== "string") throw invalid("course.subject", "Expected string");
  if (!given(course.grade)) throw invalid("course.grade", "Required");
  if (!Number.isInteger(course.grade)) throw invalid("course.grade", "Expected integer");
  return { subject: course.subject, grade: /** @type {number} */ (course.grade) };
}

/**
 * @param {unknown} time
 * @returns {TimeOptions | null}
 */
function checkTimeOptions(time) {
  if (time === false) return null;
  if (!given(time) || time === true) return { ...DEFAULT_TIME };
  if (typeof time !== "object") throw invalid("time", "Expected an object of time options, or false");
  const merged = { ...DEFAULT_TIME };
  const known = Object.keys(DEFAULT_TIME);
  for (const [key, value] of Object.entries(/** @type {object} */ (time))) {
    if (!known.includes(key)) {
      throw invalid(`time.${key}`, `Unknown time option; expected one of: ${known.join(", ")}`);
    }
    if (value === undefined) continue;
    if (key === "hiddenTimeoutMs" && value === null) {
      merged.hiddenTimeoutMs = null; // never stop on a hidden tab
    } else if (key === "retryAttempts" && !isCount(value)) {
      throw invalid(`time.${key}`, "Expected nonnegative integer");
    } else if (key !== "retryAttempts" && !(isNumber(value) && value > 0)) {
      throw invalid(`time.${key}`, "Expected a positive number");
    } else {
      merged[/** @type {keyof TimeOptions} */ (key)] = value;
    }
  }
  return merged;
}

/**
 * @template {unknown[]} A
 * @param {((...args: A) => void) | undefined} callback
 * @param {A} args
 */
function safely(callback, ...args) {
  if (typeof callback !== "function") return;
  try {
    callback(...args);
  } catch (error) {
    console.error("timeledger: a callback threw", error);
  }
}

/** @param {number} ms */
function iso(ms) {
  return new Date(ms).toISOString();
}

/** One tracked run of one activity. Create it with `client.activity.start(...)`. */
export class Activity {
  /** @type {Transport} */
  #client;
  /** @type {Clock} */
  #clock;
  /** @type {Pick<ActivityOptions, "onError" | "onPause" | "onResume" | "onFlush">} */
  #callbacks;
  #windowStart = 0;
  #segmentStart = 0;
  #activeMs = 0;
  #pausedMs = 0;
  #reportedActiveMs = 0;
  #manualPause = false;
  #hidden = false;
  /** @type {number | null} When the current pause (by hand or hidden tab) began. */
  #pausedSince = null;
  #suspended = false;
  #stopped = false;
  #ended = false;
  /** @type {number | null} */
  #endedAt = null;
  /** @type {Promise<void> | null} */
  #ending = null;
  /** @type {TimeWindow[]} */
  #pending = [];
  /** @type {Promise<void>} */
  #sending = Promise.resolve();
  /** @type {unknown} */
  #heartbeatTimer = null;
  /** @type {unknown} */
  #watchdogTimer = null;
  /** @type {Array<[EventTarget, string, EventListener]>} */
  #listeners = [];

  /**
   * @param {Transport} client The client's side: `client.activity.start(...)` makes activities.
   * @param {Clock} clock
   * @param {ActivityOptions} options
   */
  constructor(client, clock, options) {
    this.#client = client;
    this.#clock = clock;
    /** @type {string} */
    this.id = checkText(options.id, "id");
    /** @type {string} */
    this.name = checkText(options.name, "name");
    /** @type {Course} */
    this.course = checkCourse(options.course);
    /** @type {string} A UUID, or the app's own id for the run (the adapter maps it to a UUID). */
    this.runId = given(options.runId) ? checkRunId(options.runId) : newRunId();
    /** @type {TimeOptions | null} null: no time tracked (`time: false`). */
    this.time = checkTimeOptions(options.time);
    /** @type {boolean | undefined} */
    this.process = options.process;
    this.#callbacks = {
      onError: options.onError,
      onPause: options.onPause,
      onResume: options.onResume,
      onFlush: options.onFlush,
    };
    const now = this.#clock.now();
    /** @type {Date} */
    this.startedAt = new Date(now);
    this.#windowStart = now;
    this.#segmentStart = now;
    this.#stopped = this.time === null;
    if (this.time !== null) {
      this.#listen();
      this.#scheduleHeartbeat();
    }
  }

  // ---- state -----------------------------------------------------------------------------------
  /** Paused by hand, the tab hidden, or stopped by the hidden timeout. */
  get isPaused() {
    return this.#suspended || this.#manualPause || this.#hidden;
  }

  /** True once `end()` has finished (and, with metrics, the completion was accepted). */
  get isEnded() {
    return this.#ended;
  }

  /** Active milliseconds of the open window. */
  get elapsedMs() {
    if (this.#stopped || this.#suspended) return 0;
    const running = this.isPaused ? 0 : this.#clock.now() - this.#segmentStart;
    return this.#activeMs + running;
  }

  /** Active milliseconds of every window so far, the open one included. */
  get totalActiveMs() {
    return this.#reportedActiveMs + this.elapsedMs;
  }

  // ---- controls --------------------------------------------------------------------------------
  /** Count time as paused from now (a modal, a menu) until `resume()`. */
  pause() {
    this.#change(() => {
      this.#manualPause = true;
    });
  }

  /** Count time as active again (while the tab is visible). */
  resume() {
    this.#change(() => {
      this.#manualPause = false;
    });
  }

  /**
   * End the activity: send the open window, then (with metrics) the completion. `pctComplete`
   * among the metrics travels at the top level of the submit body. `options.time` =
   * `{ active, inactive }` (ms) replaces the tracked open window in the final time report.
   * @param {Metrics | null} [metrics]
   * @param {EndOptions} [options]
   * @returns {Promise<void>}
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
      for (const key of /** @type {const} */ (["active", "inactive"])) {
        const value = time[key];
        if ((key === "active" || given(value)) && !(isNumber(value) && value >= 0)) {
          return Promise.reject(invalid(`time.${key}`, "Expected a nonnegative number of milliseconds"));
        }
      }
      const problem = timeProblem(null, 0, [["time.active", time.active], ["time.inactive", time.inactive || 0]]);
      if (problem) return Promise.reject(invalid(problem.field, problem.message));
    }
    if (this.#ended && !completing) return Promise.resolve();
    if (this.#ended) {
      return Promise.reject(new TimebackError("This activity has already ended", { code: "ACTIVITY_ENDED" }));
    }
    if (this.#ending) {
      // An end() is under way: a time-only end waits for it; a completion goes after it.
      const previous = this.#ending;
      if (!completing) return previous.then(() => undefined, () => undefined);
      return previous.then(() => this.end(metrics), () => this.end(metrics));
    }
    if (this.#endedAt === null) this.#stop(time);
    const sent = this.#sending;
    const ending = (async () => {
      await sent;
      if (completing) await this.#submit(metrics);
      this.#ended = true;
    })();
    this.#ending = ending;
    const settle = () => {
      if (this.#ending === ending) this.#ending = null;
    };
    ending.then(settle, settle);
    return ending;
  }

  // ---- time accounting -------------------------------------------------------------------------
  /** @param {number} now */
  #settle(now) {
    const span = Math.max(now - this.#segmentStart, 0);
    if (this.isPaused) this.#pausedMs += span;
    else this.#activeMs += span;
    this.#segmentStart = now;
  }

  /**
   * @param {number} now
   * @param {{ active: number, inactive?: number }} [override]
   * @returns {TimeWindow | null}
   */
  #closeWindow(now, override) {
    if (!override) this.#settle(now);
    const elapsedMs = override ? Math.round(override.active) : this.#activeMs;
    const pausedMs = override ? Math.round(override.inactive || 0) : this.#pausedMs;
    let start = this.#windowStart;
    if (override && elapsedMs + pausedMs > now - start + WINDOW_SLACK_MS) {
      start = now - (elapsedMs + pausedMs); // time measured elsewhere: its window ends now
    }
    const window = { startedAt: iso(start), endedAt: iso(now), elapsedMs, pausedMs };
    this.#windowStart = now;
    this.#segmentStart = now;
    this.#activeMs = 0;
    this.#pausedMs = 0;
    if (window.elapsedMs === 0 && window.pausedMs === 0) return null;
    const problem = timeProblem(start, now, [["elapsedMs", elapsedMs], ["pausedMs", pausedMs]]);
    if (problem) {
      // A window past the bounds (a machine asleep for a day) is refused here, not sent.
      const error = invalid(problem.field, problem.message);
      safely(this.#callbacks.onError, error, { type: "heartbeat", runId: this.runId, window });
      return null;
    }
    this.#reportedActiveMs += window.elapsedMs;
    return window;
  }

  /**
   * Every path that reads the clock goes through here first: a pause that has outlasted the
   * hidden timeout ends at the moment it was due, however late a (throttled) timer fires, so
   * the time past the timeout is never reported.
   * @param {number} now
   */
  #catchUp(now) {
    if (this.#stopped || this.#suspended || this.#pausedSince === null) return;
    if (this.time === null || this.time.hiddenTimeoutMs === null) return;
    const due = this.#pausedSince + this.time.hiddenTimeoutMs;
    if (now < due) return;
    const window = this.#closeWindow(due);
    this.#heartbeatTimer = this.#clear(this.#heartbeatTimer);
    this.#watchdogTimer = this.#clear(this.#watchdogTimer);
    this.#suspended = true;
    this.#queue(window);
    safely(this.#callbacks.onPause);
  }

  /** @param {() => void} mutate */
  #change(mutate) {
    if (this.#stopped) {
      mutate();
      return;
    }
    const now = this.#clock.now();
    this.#catchUp(now);
    const wasPaused = this.isPaused;
    if (!this.#suspended) this.#settle(now);
    mutate();
    const paused = this.#manualPause || this.#hidden;
    if (this.#suspended) {
      if (!paused) this.#wake(now);
      return;
    }
    if (paused && !wasPaused) {
      this.#pausedSince = now;
      this.#armWatchdog();
    } else if (!paused && wasPaused) {
      this.#pausedSince = null;
      this.#watchdogTimer = this.#clear(this.#watchdogTimer);
    }
  }

  /** @param {number} now */
  #wake(now) {
    this.#suspended = false;
    this.#pausedSince = null;
    this.#windowStart = now;
    this.#segmentStart = now;
    this.#activeMs = 0;
    this.#pausedMs = 0;
    this.#scheduleHeartbeat();
    safely(this.#callbacks.onResume);
  }

  // ---- timers ----------------------------------------------------------------------------------
  /**
   * @param {unknown} handle
   * @returns {null}
   */
  #clear(handle) {
    if (handle !== null) this.#clock.clearTimeout(handle);
    return null;
  }

  #scheduleHeartbeat() {
    this.#heartbeatTimer = this.#clear(this.#heartbeatTimer);
    if (this.time === null) return;
    this.#heartbeatTimer = this.#clock.setTimeout(() => this.#beat(), this.time.heartbeatIntervalMs);
  }

  #beat() {
    this.#heartbeatTimer = null;
    if (this.#stopped || this.#suspended) return;
    const now = this.#clock.now();
    this.#catchUp(now);
    if (this.#suspended) return;
    const window = this.#closeWindow(now);
    this.#scheduleHeartbeat();
    this.#queue(window);
  }

  #armWatchdog() {
    this.#watchdogTimer = this.#clear(this.#watchdogTimer);
    if (this.time === null || this.time.hiddenTimeoutMs === null || this.#pausedSince === null) return;
    const due = this.#pausedSince + this.time.hiddenTimeoutMs;
    this.#watchdogTimer = this.#clock.setTimeout(() => {
      this.#watchdogTimer = null;
      this.#catchUp(this.#clock.now());
    }, Math.max(due - this.#clock.now(), 0));
  }

  /** @param {{ active: number, inactive?: number }} [timeOverride] */
  #stop(timeOverride) {
    const now = this.#clock.now();
    this.#catchUp(now);
    let window = null;
    if (this.time !== null && !this.#suspended) {
      window = this.#closeWindow(now, timeOverride);
    } else if (timeOverride) {
      if (this.#suspended) this.#windowStart = now;
      window = this.#closeWindow(now, timeOverride);
    }
    this.#endedAt = now;
    this.#stopped = true;
    this.#heartbeatTimer = this.#clear(this.#heartbeatTimer);
    this.#watchdogTimer = this.#clear(this.#watchdogTimer);
    for (const [target, type, handler] of this.#listeners) target.removeEventListener(type, handler);
    this.#listeners = [];
    this.#client.release(this);
    this.#queue(window);
  }

  // ---- page lifecycle --------------------------------------------------------------------------
  /**
   * @param {EventTarget | undefined} target
   * @param {string} type
   * @param {EventListener} handler
   */
  #on(target, type, handler) {
    if (!target || typeof target.addEventListener !== "function") return;
    target.addEventListener(type, handler);
    this.#listeners.push([target, type, handler]);
  }

  #listen() {
    const doc = globalThis.document;
    if (doc) {
      this.#hidden = doc.visibilityState === "hidden";
      if (this.#hidden) this.#pausedSince = this.#clock.now();
      if (this.#hidden) this.#armWatchdog();
      this.#on(doc, "visibilitychange", () => {
        const hidden = doc.visibilityState === "hidden";
        if (hidden !== this.#hidden) {
          this.#change(() => {
            this.#hidden = hidden;
          });
        }
      });
    }
    this.#on(globalThis, "pagehide", () => this.#pageHide());
    this.#on(globalThis, "pageshow", (event) => {
      if (/** @type {PageTransitionEvent} */ (event).persisted) this.#pageShow();
    });
  }

  #pageHide() {
    if (this.#stopped) return;
    const now = this.#clock.now();
    this.#catchUp(now);
    if (!this.#suspended) {
      const window = this.#closeWindow(now);
      if (window) this.#pending.push(window);
    }
    this.#heartbeatTimer = this.#clear(this.#heartbeatTimer);
    this.#watchdogTimer = this.#clear(this.#watchdogTimer);
    // Everything not yet acknowledged leaves now; a window that was also in flight is
    // answered as a duplicate (same runId and startedAt), so nothing counts twice.
    for (const window of this.#pending.splice(0)) this.#client.beacon("heartbeat", this.#body(window));
  }

  #pageShow() {
    if (this.#stopped) return;
    const now = this.#clock.now();
    this.#windowStart = now;
    this.#segmentStart = now;
    this.#activeMs = 0;
    this.#pausedMs = 0;
    if (this.#suspended) return;
    if (this.#pausedSince !== null) {
      this.#pausedSince = now; // the time in the back/forward cache is not counted
      this.#armWatchdog();
    }
    this.#scheduleHeartbeat();
  }

  // ---- delivery --------------------------------------------------------------------------------
  /**
   * @param {TimeWindow} window
   * @returns {Record<string, unknown>}
   */
  #body(window) {
    /** @type {Record<string, unknown>} */
    const body = { id: this.id, name: this.name, course: this.course, runId: this.runId, ...window };
    if (given(this.process)) body.process = this.process;
    return body;
  }

  #retryAttempts() {
    return this.time === null ? DEFAULT_TIME.retryAttempts : this.time.retryAttempts;
  }

  /** @param {TimeWindow | null} window */
  #queue(window) {
    if (window === null) return;
    this.#pending.push(window);
    this.#pending.splice(0, Math.max(this.#pending.length - MAX_PENDING_WINDOWS, 0));
    this.#sending = this.#sending.then(() => this.#drain());
  }

  /** @param {TimeWindow} window */
  #forget(window) {
    const index = this.#pending.indexOf(window);
    if (index >= 0) this.#pending.splice(index, 1);
  }

  /** Send pending windows oldest first; on an outage keep them for the next heartbeat. */
  async #drain() {
    while (this.#pending.length > 0) {
      const window = this.#pending[0];
      try {
        await this.#client.post("heartbeat", this.#body(window), this.#retryAttempts());
        this.#forget(window);
        safely(this.#callbacks.onFlush, window.elapsedMs);
      } catch (error) {
        const failure = asTimebackError(error);
        safely(this.#callbacks.onError, failure, { type: "heartbeat", runId: this.runId, window });
        if (!failure.retryable) {
          this.#forget(window);
          continue;
        }
        return;
      }
    }
  }

  /** @param {Metrics} metrics */
  async #submit(metrics) {
    const { pctComplete, ...rest } = metrics;
    /** @type {Record<string, unknown>} */
    const body = {
      id: this.id,
      name: this.name,
      course: this.course,
      runId: this.runId,
      endedAt: iso(/** @type {number} */ (this.#endedAt)),
      metrics: rest,
    };
    if (given(pctComplete)) body.pctComplete = pctComplete;
    if (given(this.process)) body.process = this.process;
    try {
      await this.#client.post("submit", body, this.#retryAttempts());
    } catch (error) {
      safely(this.#callbacks.onError, asTimebackError(error), { type: "submit", runId: this.runId });
      throw error;
    }
  }
}

/**
 * @param {unknown} error
 * @returns {TimebackError}
 */
function asTimebackError(error) {
  if (error instanceof TimebackError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TimebackError(message, { code: "ERROR", cause: error });
}

/**
 * @param {Response} response
 * @returns {Promise<TimebackError>}
 */
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

/**
 * @param {number} attempt
 * @param {Response | null} response
 */
function retryDelay(attempt, response) {
  const header = response && response.headers ? response.headers.get("Retry-After") : null;
  const seconds = header === null ? NaN : Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, RETRY_CAP_MS);
  return Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_CAP_MS);
}

/** A client for one page: `createClient(options)` makes one. */
export class Client {
  /** @type {typeof fetch} */
  #fetch;
  /** @type {ClientOptions["headers"]} */
  #headers;
  /** @type {RequestCredentials} */
  #credentials;
  /** @type {Clock} */
  #clock;
  /** @type {Activity | null} */
  #current = null;
  /** @type {Transport} */
  #transport = {
    post: (route, body, retryAttempts) => this.#post(route, body, retryAttempts),
    beacon: (route, body) => this.#beacon(route, body),
    release: (activity) => this.#release(activity),
  };

  /** @param {ClientOptions} [options] */
  constructor({ baseURL, fetch: fetchImpl, headers, credentials, clock } = {}) {
    const here = new URL(".", import.meta.url).href;
    const origin = globalThis.location ? globalThis.location.href : here;
    /** @type {string} Where the activity routes are, without a trailing slash. */
    this.baseURL = new URL(baseURL === undefined ? here : baseURL, origin).href.replace(/\/+$/, "");
    this.#fetch = fetchImpl || globalThis.fetch.bind(globalThis);
    this.#headers = headers;
    this.#credentials = credentials || "same-origin";
    this.#clock = clock || PAGE_CLOCK;
    const client = this;
    this.activity = {
      /**
       * Start tracking an activity; throws while another one is in progress.
       * @param {ActivityOptions} options
       * @returns {Activity}
       */
      start(options) {
        return client.#start(options);
      },
      /** @returns {Activity | null} The running activity, or null. */
      get current() {
        return client.#current;
      },
    };
    this.user = {
      /**
       * Whether the signed-in learner is a Timeback user: `{verified: true, timebackId}` or
       * `{verified: false}`. Rejects with a TimebackError (UNAUTHORIZED, USER_AMBIGUOUS, ...).
       * @returns {Promise<UserVerification>}
       */
      verify() {
        return /** @type {Promise<UserVerification>} */ (client.#getUser("verify"));
      },
      /**
       * The signed-in learner's profile. Rejects with a TimebackError (UNAUTHORIZED,
       * USER_NOT_FOUND, USER_AMBIGUOUS, INTERNAL_ERROR, NETWORK_ERROR).
       * @returns {Promise<UserProfile>}
       */
      me() {
        return /** @type {Promise<UserProfile>} */ (client.#getUser("me"));
      },
    };
  }

  /**
   * GET `{baseURL}/user/{route}` once (no retries: the caller decides).
   * @param {"verify" | "me"} route
   * @returns {Promise<unknown>}
   */
  async #getUser(route) {
    const extra = typeof this.#headers === "function" ? await this.#headers() : this.#headers;
    let response;
    try {
      response = await this.#fetch(`${this.baseURL}/user/${route}`, {
        method: "GET",
        headers: { Accept: "application/json", ...(extra || {}) },
        credentials: this.#credentials,
      });
    } catch (cause) {
      throw new TimebackError(`Network error: ${cause instanceof Error ? cause.message : cause}`, {
        code: "NETWORK_ERROR",
        cause,
      });
    }
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  /** @param {ActivityOptions} options */
  #start(options) {
    if (this.#current !== null) {
      throw new TimebackError("Another activity is already in progress", {
        code: "ACTIVITY_IN_PROGRESS",
      });
    }
    const activity = new Activity(this.#transport, this.#clock, options || {});
    this.#current = activity;
    return activity;
  }

  /**
   * An activity has stopped: another may start.
   * @param {Activity} activity
   */
  #release(activity) {
    if (this.#current === activity) this.#current = null;
  }

  /** @param {string} route */
  #url(route) {
    return `${this.baseURL}/activity/${route}`;
  }

  async #headersFor() {
    const extra = typeof this.#headers === "function" ? await this.#headers() : this.#headers;
    return { "Content-Type": "application/json", ...(extra || {}) };
  }

  /** @param {number} ms */
  #wait(ms) {
    return new Promise((resolve) => this.#clock.setTimeout(() => resolve(undefined), ms));
  }

  /**
   * POST a body, retrying the network and 408/429/5xx up to `retryAttempts` times with backoff.
   * @param {string} route
   * @param {Record<string, unknown>} body
   * @param {number} retryAttempts
   * @returns {Promise<Response>}
   */
  async #post(route, body, retryAttempts) {
    const payload = JSON.stringify(body);
    for (let attempt = 1; ; attempt += 1) {
      let response = null;
      let error;
      try {
        response = await this.#fetch(this.#url(route), {
          method: "POST",
          headers: await this.#headersFor(),
          body: payload,
          credentials: this.#credentials,
        });
        if (response.ok) return response;
        error = await errorFrom(response);
      } catch (cause) {
        error = cause instanceof TimebackError
          ? cause
          : new TimebackError(`Network error: ${cause instanceof Error ? cause.message : cause}`, {
            code: "NETWORK_ERROR",
            cause,
          });
      }
      if (!error.retryable || attempt > retryAttempts) throw error;
      await this.#wait(retryDelay(attempt, response));
    }
  }

  /**
   * Send a body as the page goes away: a beacon (text/plain), or a keepalive fetch.
   * @param {string} route
   * @param {Record<string, unknown>} body
   */
  #beacon(route, body) {
    const payload = JSON.stringify(body);
    const beacon = globalThis.navigator && globalThis.navigator.sendBeacon;
    if (!this.#headers && typeof beacon === "function") {
      try {
        if (beacon.call(globalThis.navigator, this.#url(route), payload)) return;
      } catch {
        // fall through to a keepalive fetch
      }
    }
    Promise.resolve(this.#headersFor())
      .then((headers) => this.#fetch(this.#url(route), {
        method: "POST",
        headers,
        body: payload,
        credentials: this.#credentials,
        keepalive: true,
      }))
      .catch(() => {});
  }
}

/**
 * A client for one page. Options: `baseURL` (default: where this file is served from),
 * `fetch`, `headers` (an object, or a function returning one, e.g. a bearer token),
 * `credentials` (default "same-origin") and `clock` (default: `Date.now` and the page's timers).
 * With custom headers the last window leaves the page by keepalive fetch instead of sendBeacon,
 * since beacons cannot carry headers.
 * @param {ClientOptions} [options]
 * @returns {Client}
 */
export function createClient(options = {}) {
  return new Client(options);
}
