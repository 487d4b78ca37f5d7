// timeledger-react.js: React bindings for timeledger.js, using the page's own React (not bundled).
//
//   import { createTimebackHooks } from "/api/timeback/timeledger-react.js";
//   const { TimebackProvider, useTimeback, useActivity } = createTimebackHooks(React);
//
//   <TimebackProvider learner={user}>...</TimebackProvider>   // client is null until `learner` is set
//   function Lesson() {
//     const activity = useActivity({ id: "fractions-1", name: "Fractions 1",
//                                    course: { subject: "Math", grade: 3 } });
//     ...                                                      // started in an effect; on unmount
//   }                                                          // it ends time-only (no completion)

import { createClient } from "./timeledger.js";

function keyOf(value) {
  if (value === undefined || value === null || value === false) return null;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * The provider and hooks, bound to a React (default: `globalThis.React`, as a UMD build sets it).
 * Returns `{ TimebackProvider, TimebackContext, useTimeback, useActivity }`.
 */
export function createTimebackHooks(React = globalThis.React) {
  if (!React || typeof React.createContext !== "function") {
    throw new TypeError("createTimebackHooks needs React: pass it in, or load React before this module");
  }
  const { createContext, createElement, useContext, useEffect, useMemo, useRef, useState } = React;
  const TimebackContext = createContext(null);

  /**
   * Gives its children a timeledger client. Pass `client` to supply one yourself (null/undefined
   * while signed out), or `learner` (any value naming who is signed in; null while nobody is) and
   * the `createClient` options (`baseURL`, `fetch`, `headers`, `credentials`).
   */
  function TimebackProvider({ client, learner, baseURL, fetch, headers, credentials, children }) {
    const learnerKey = keyOf(learner);
    const value = useMemo(() => {
      if (client !== undefined) return client || null;
      if (learnerKey === null) return null;
      return createClient({ baseURL, fetch, headers, credentials });
    }, [client, learnerKey, baseURL, fetch, headers, credentials]);
    return createElement(TimebackContext.Provider, { value }, children);
  }

  /** The client, or null until the app says who the learner is. */
  function useTimeback() {
    return useContext(TimebackContext);
  }

  /**
   * Start an activity once the client exists (in an effect) and end it, time only, on unmount or
   * when its id, course, runId or time options change. Returns the Activity, or null before it
   * starts. Pass null to start nothing yet (e.g. while the runId is loading).
   */
  function useActivity(options) {
    const client = useTimeback();
    const [activity, setActivity] = useState(null);
    const latest = useRef(options);
    latest.current = options;
    const identity = options
      ? keyOf([options.id, options.name, options.course, options.runId || null, options.time ?? null,
        options.process ?? null])
      : null;
    useEffect(() => {
      if (!client || identity === null) return undefined;
      const started = client.activity.start({
        ...latest.current,
        onError: (error, context) => latest.current && latest.current.onError
          ? latest.current.onError(error, context) : undefined,
        onPause: () => latest.current && latest.current.onPause ? latest.current.onPause() : undefined,
        onResume: () => latest.current && latest.current.onResume ? latest.current.onResume() : undefined,
        onFlush: (ms) => latest.current && latest.current.onFlush ? latest.current.onFlush(ms) : undefined,
      });
      setActivity(started);
      return () => {
        setActivity(null);
        started.end().catch((error) => console.warn("timeledger: ending on unmount failed", error));
      };
    }, [client, identity]);
    return activity;
  }

  return { TimebackProvider, TimebackContext, useTimeback, useActivity };
}
