// timeledger-vue.js: a Vue 3 composable for timeledger.js (the package's `timeledger/vue`).
// Vue is a peer dependency, imported as "vue" (a bundler resolves it; a page without one maps it
// to vue's esm-browser build with an import map).
//
//   import { provideTimeback, useActivity } from "timeledger/vue";
//   provideTimeback(client);          // in a parent's setup() (a client, or a shallowRef to one),
//                                     // or app.provide(TIMEBACK, client)
//   const activity = useActivity({ id: "fractions-1", name: "Fractions 1",
//                                  course: { subject: "Math", grade: 3 } });
//   // activity.value: the Activity once started; it ends time-only when the component unmounts.

import { inject, markRaw, onScopeDispose, provide, shallowRef, toValue, watch } from "vue";

/**
 * @typedef {import("./timeledger.js").Client} Client
 * @typedef {import("./timeledger.js").Activity} Activity
 * @typedef {import("./timeledger.js").ActivityOptions} ActivityOptions
 * @typedef {import("vue").MaybeRefOrGetter<Client | null>} ClientSource
 *   A client, or a ref or getter giving one (null while nobody is signed in).
 */

/**
 * The injection key the client is provided under.
 * @type {import("vue").InjectionKey<ClientSource>}
 */
export const TIMEBACK = Symbol("timeledger");

/**
 * Give the components below this one a client (or a ref to one that is null until sign-in).
 * @param {ClientSource} client
 */
export function provideTimeback(client) {
  provide(TIMEBACK, client);
}

/**
 * The provided client, or null (none provided, or nobody signed in yet).
 * @returns {Client | null}
 */
export function useTimeback() {
  return toValue(inject(TIMEBACK, null));
}

/**
 * A stable key for the options that make a different run (null for none).
 * @param {ActivityOptions | null | undefined} options
 * @returns {string | null}
 */
function identityOf(options) {
  if (!options) return null;
  return JSON.stringify([options.id, options.name, options.course, options.runId || null,
    options.time ?? null, options.process ?? null]);
}

/**
 * Start an activity once there is a client and options, and end it, time only, when the
 * component unmounts or its id, course, runId or time options change. `options` may be a ref or
 * a getter (null: start nothing yet). Returns a shallow ref holding the Activity, or null.
 * @param {import("vue").MaybeRefOrGetter<ActivityOptions | null>} options
 * @param {{ client?: ClientSource }} [using] A client to use instead of the provided one.
 * @returns {import("vue").ShallowRef<Activity | null>}
 */
export function useActivity(options, using = {}) {
  const source = using.client === undefined ? inject(TIMEBACK, null) : using.client;
  const activity = /** @type {import("vue").ShallowRef<Activity | null>} */ (shallowRef(null));
  /** @type {Activity | null} */
  let started = null;
  const stop = () => {
    const ending = started;
    started = null;
    activity.value = null;
    ending?.end().catch((error) => console.warn("timeledger: ending on unmount failed", error));
  };
  watch([() => toValue(source), () => identityOf(toValue(options))], ([client, identity]) => {
    stop();
    const latest = toValue(options);
    if (!client || identity === null || !latest) return;
    // markRaw: an Activity keeps its state in private fields, which a reactive proxy cannot reach.
    started = markRaw(client.activity.start({
      ...latest,
      onError: (error, context) => toValue(options)?.onError?.(error, context),
      onPause: () => toValue(options)?.onPause?.(),
      onResume: () => toValue(options)?.onResume?.(),
      onFlush: (ms) => toValue(options)?.onFlush?.(ms),
    }));
    activity.value = started;
  }, { immediate: true });
  onScopeDispose(stop);
  return activity;
}
