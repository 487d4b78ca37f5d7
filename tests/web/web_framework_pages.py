"""Lesson pages for timeledger/react, /vue and /svelte: browser builds, no bundler."""

# Each page maps the framework's bare import ("react", "vue", "svelte/store") with an import map,
# as docs/web.md shows for a page without a bundler, and exposes the same test surface:
# window.signIn(email) makes the client; window.activity is the running Activity once started;
# window.finish(metrics) completes it; #lesson says what the page shows.

from __future__ import annotations

LESSON = ('{ id: "framework-lesson", name: "Framework lesson", '
          'course: { subject: "Math", grade: 3 } }')

REACT_SHIM = """// React 18 ships CommonJS and UMD builds only: this re-exports the UMD global.
const React = window.React;
export default React;
export const { Children, Component, Fragment, StrictMode, createContext, createElement,
  useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState } = React;
"""

COMMON = """
window.started = [];
let announce = null;
window.nextActivity = () => new Promise((resolve) => { announce = resolve; });
function track(activity) {
  window.activity = activity;
  if (!activity) return;
  window.started.push(activity.runId);
  if (announce) announce(activity.runId);
}
window.finish = (metrics) => window.activity.end(metrics);
"""



def filled(page: str) -> str:
    """The page with the shared script and the lesson's options in place."""
    return page.replace("/*COMMON*/", COMMON).replace("/*LESSON*/", LESSON)


REACT_PAGE = filled("""<!doctype html><html><head><meta charset=utf-8><title>react</title>
<script src="/node_modules/react/umd/react.development.js"></script>
<script src="/node_modules/react-dom/umd/react-dom.development.js"></script>
<script type="importmap">{"imports": {"react": "/react-shim.js"}}</script>
</head><body><div id=root></div>
<script type=module>
import React from "react";
import { TimebackProvider, useActivity, useTimeback } from "/api/timeback/timeledger-react.js";
const h = React.createElement;
/*COMMON*/
function Lesson() {
  const client = useTimeback();
  const activity = useActivity(/*LESSON*/);
  React.useEffect(() => track(activity), [activity]);
  return h("p", { id: "lesson" }, client === null ? "waiting for the learner"
    : activity ? `tracking ${activity.runId}` : "starting");
}
function App({ learner, lesson }) {
  return h(TimebackProvider, { learner }, lesson ? h(Lesson) : h("p", { id: "lesson" }, "closed"));
}
const root = ReactDOM.createRoot(document.getElementById("root"));
window.show = (learner, lesson) =>
  root.render(h(React.StrictMode, null, h(App, { learner, lesson })));
window.signIn = (email) => window.show({ email }, true);
window.show(null, true);
window.ready = true;
</script></body></html>""")

VUE_PAGE = filled("""<!doctype html><html><head><meta charset=utf-8><title>vue</title>
<script type="importmap">{"imports": {"vue": "/node_modules/vue/dist/vue.esm-browser.js"}}</script>
</head><body><div id=root></div>
<script type=module>
import { createApp, h, shallowRef, watch } from "vue";
import { createClient } from "/api/timeback/timeledger.js";
import { provideTimeback, useActivity } from "/api/timeback/timeledger-vue.js";
/*COMMON*/
const client = shallowRef(null);
const Lesson = {
  setup() {
    const activity = useActivity(/*LESSON*/);
    watch(activity, track);
    return () => h("p", { id: "lesson" }, activity.value ? `tracking ${activity.value.runId}`
      : "waiting for the learner");
  },
};
createApp({ setup() { provideTimeback(client); return () => h(Lesson); } }).mount("#root");
window.signIn = () => { client.value = createClient(); };
window.ready = true;
</script></body></html>""")

SVELTE_PAGE = filled("""<!doctype html><html><head><meta charset=utf-8><title>svelte</title>
<script type="importmap">
{"imports": {"svelte/store": "/node_modules/svelte/src/runtime/store/index.js"}}
</script>
</head><body><p id=lesson>loading</p>
<script type=module>
import { writable } from "svelte/store";
import { activityStore, clientStore } from "/api/timeback/timeledger-svelte.js";
/*COMMON*/
const learner = writable(null);
const activity = activityStore(clientStore(learner), /*LESSON*/);
activity.subscribe((current) => {
  track(current);
  document.getElementById("lesson").textContent = current ? `tracking ${current.runId}`
    : "waiting for the learner";
});
window.signIn = (email) => learner.set({ email });
window.ready = true;
</script></body></html>""")

PAGES = {"react": REACT_PAGE, "vue": VUE_PAGE, "svelte": SVELTE_PAGE}
