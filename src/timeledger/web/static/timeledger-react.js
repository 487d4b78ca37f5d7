// timeledger-react.js: React bindings for timeledger.js (the package's `timeledger/react`).
// React is a peer dependency, imported as "react" (a bundler resolves it; a page without one
// maps it with an import map).
//
//   import { TimebackProvider, useTimeback, useActivity } from "timeledger/react";
//
//   <TimebackProvider learner={user}>...</TimebackProvider>   // client is null until `learner` is set
//   function Lesson() {
//     const activity = useActivity({ id: "fractions-1", name: "Fractions 1",
//                                    course: { subject: "Math", grade: 3 } });
//     ...                                                      // started in an effect; on unmount
//   }                                                          // it ends time-only (no completion)

import * as React from "react";
import { createClient } from "./timeledger.js";

/**
 * @typedef {import("./timeledger.js").Client} Client
 * @typedef {import("./timeledger.js").Activity} Activity
 * @typedef {import("./timeledger.js").ActivityOptions} ActivityOptions
 * @typedef {import("./timeledger.js").ClientOptions} ClientOptions
 * @typedef {object} TimebackProviderProps
 * @property {Client | null} [client] A client of your own (null while signed out).
 * @property {unknown} [learner] Who is signed in (any value; null while nobody is).
 * @property {ClientOptions["baseURL"]} [baseURL]
 * @property {ClientOptions["fetch"]} [fetch]
 * @property {ClientOptions["headers"]} [headers]
 * @property {ClientOptions["credentials"]} [credentials]
 * @property {ClientOptions["clock"]} [clock]
 * @property {React.ReactNode} [children]
 */

/**
 * A stable key for a value (null for nothing), so effects rerun only when it really changes.
 * @param {unknown} value
 * @returns {string | null}
 */
function keyOf(value) {
  if (value === undefined || value === null || value === false) return null;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The client for the components below a `TimebackProvider`. */
export const TimebackContext = React.createContext(/** @type {Client | null} */ (null));

/**
 * Gives its children a timeledger client. Pass `client` to supply one yourself (null/undefined
 * while signed out), or `learner` (any value naming who is signed in; null while nobody is) and
 * the `createClient` options (`baseURL`, `fetch`, `headers`, `credentials`, `clock`).
 * @param {TimebackProviderProps} props
 */
export function TimebackProvider({ client, learner, baseURL, fetch, headers, credentials, clock, children }) {
  const learnerKey = keyOf(learner);
  const value = React.useMemo(() => {
    if (client !== undefined) return client || null;
    if (learnerKey === null) return null;
    return createClient({ baseURL, fetch, headers, credentials, clock });
  }, [client, learnerKey, baseURL, fetch, headers, credentials, clock]);
  return React.createElement(TimebackContext.Provider, { value }, children);
}

/**
 * The client, or null until the app says who the learner is.
 * @returns {Client | null}
 */
export function useTimeback() {
  return React.useContext(TimebackContext);
}

/**
 * Start an activity once the client exists (in an effect) and end it, time only, on unmount or
 * when its id, course, runId or time options change. Returns the Activity, or null before it
 * starts. Pass null to start nothing yet (e.g. while the runId is loading).
 * @param {ActivityOptions | null} options
 * @returns {Activity | null}
 */
export function useActivity(options) {
  const client = useTimeback();
  const [activity, setActivity] = React.useState(/** @type {Activity | null} */ (null));
  const latest = React.useRef(options);
  latest.current = options;
  const identity = options
    ? keyOf([options.id, options.name, options.course, options.runId || null, options.time ?? null,
      options.process ?? null])
    : null;
  React.useEffect(() => {
    const options = latest.current;
    if (!client || identity === null || !options) return undefined;
    const started = client.activity.start({
      ...options,
      onError: (error, context) => latest.current?.onError?.(error, context),
      onPause: () => latest.current?.onPause?.(),
      onResume: () => latest.current?.onResume?.(),
      onFlush: (ms) => latest.current?.onFlush?.(ms),
    });
    setActivity(started);
    return () => {
      setActivity(null);
      started.end().catch((error) => console.warn("timeledger: ending on unmount failed", error));
    };
  }, [client, identity]);
  return activity;
}

/**
 * The signed-in learner's profile from `client.user.me()`, fetched once the client exists and
 * again when it changes: `{ user, error, loading }` (`error` is the TimebackError, e.g. code
 * USER_NOT_FOUND). For `{verified, timebackId}` call `useTimeback().user.verify()`.
 * @returns {{ user: import("./timeledger.js").UserProfile | null, error: unknown, loading: boolean }}
 */
export function useUser() {
  const client = useTimeback();
  const [state, setState] = React.useState(
    /** @type {{ user: import("./timeledger.js").UserProfile | null, error: unknown, loading: boolean }} */
    ({ user: null, error: null, loading: client !== null }));
  React.useEffect(() => {
    if (!client) {
      setState({ user: null, error: null, loading: false });
      return undefined;
    }
    let live = true;
    setState({ user: null, error: null, loading: true });
    client.user.me().then(
      (user) => { if (live) setState({ user, error: null, loading: false }); },
      (error) => { if (live) setState({ user: null, error, loading: false }); });
    return () => {
      live = false;
    };
  }, [client]);
  return state;
}
