// timeledger-svelte.js: Svelte stores for timeledger.js (the package's `timeledger/svelte`).
// Svelte is a peer dependency, imported as "svelte/store"; the stores need no compiler.
//
//   import { clientStore, activityStore } from "timeledger/svelte";
//   const timeback = clientStore(learner);       // learner: a store, null until someone signs in
//   const activity = activityStore(timeback, { id: "fractions-1", name: "Fractions 1",
//                                              course: { subject: "Math", grade: 3 } });
//   // $activity: the Activity while subscribed; the last unsubscribe ends it, time only.

import { derived, readable } from "svelte/store";
import { createClient } from "./timeledger.js";

/**
 * @typedef {import("./timeledger.js").Client} Client
 * @typedef {import("./timeledger.js").Activity} Activity
 * @typedef {import("./timeledger.js").ActivityOptions} ActivityOptions
 * @typedef {import("./timeledger.js").ClientOptions} ClientOptions
 */

/**
 * @param {unknown} value
 * @returns {value is import("svelte/store").Readable<any>}
 */
function isStore(value) {
  return typeof value === "object" && value !== null
    && typeof /** @type {{ subscribe?: unknown }} */ (value).subscribe === "function";
}

/**
 * A store of the client: null while `learner` (a store of who is signed in) holds null or
 * undefined, a client made with `options` once it names someone.
 * @param {import("svelte/store").Readable<unknown>} learner
 * @param {ClientOptions} [options]
 * @returns {import("svelte/store").Readable<Client | null>}
 */
export function clientStore(learner, options = {}) {
  /** @type {string | null} */
  let key = null;
  /** @type {Client | null} */
  let client = null;
  return derived(learner, (who) => {
    const next = who === undefined || who === null || who === false ? null : JSON.stringify(who);
    if (next !== key) {
      key = next;
      client = next === null ? null : createClient(options);
    }
    return client;
  });
}

/**
 * A store of one activity: it starts when the first subscriber arrives and there is a client,
 * and ends (time only) when the last one leaves or the client changes. `client` is a Client or a
 * store of one (null while signed out). Complete it with `$activity.end(metrics)`.
 * @param {Client | import("svelte/store").Readable<Client | null>} client
 * @param {ActivityOptions} options
 * @returns {import("svelte/store").Readable<Activity | null>}
 */
export function activityStore(client, options) {
  const clients = isStore(client) ? client : readable(client);
  return derived(clients, (current, set) => {
    if (!current) {
      set(null);
      return undefined;
    }
    const started = current.activity.start(options);
    set(started);
    return () => {
      started.end().catch((error) => console.warn("timeledger: ending on unsubscribe failed", error));
    };
  }, /** @type {Activity | null} */ (null));
}
