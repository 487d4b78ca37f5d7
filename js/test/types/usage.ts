// How an app's TypeScript sees the package: checked by `npm run check` against dist/'s .d.ts.
// Each @ts-expect-error proves a type is precise (an `any` would make it an unused directive).
import { writable } from "svelte/store";
import { createElement } from "react";
import {
  createClient,
  TimebackError,
  validateMetrics,
  type Activity,
  type ActivityOptions,
  type Clock,
  type Metrics,
} from "timeledger";
import { TimebackProvider, useActivity, useTimeback } from "timeledger/react";
import { activityStore, clientStore } from "timeledger/svelte";
import { provideTimeback, useActivity as useVueActivity } from "timeledger/vue";

const clock: Clock = { now: () => 0, setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: () => {} };
const client = createClient({ baseURL: "/api/timeback", clock, headers: async () => ({ Authorization: "Bearer t" }) });
const lesson: ActivityOptions = {
  id: "fractions-1",
  name: "Fractions 1",
  course: { subject: "Math", grade: 3 },
  onError: (error, context) => console.warn(error.code, error.status, context.type),
};
const activity: Activity = client.activity.start(lesson);
const metrics: Metrics = { xpEarned: 12, totalQuestions: 10, correctQuestions: 8, pctComplete: 100 };
const ended: Promise<void> = activity.end(metrics, { time: { active: 1000 } });
const tracked: number = activity.totalActiveMs + activity.elapsedMs;
const problem: { field: string; message: string } | null = validateMetrics(metrics);
const failure = new TimebackError("nope", { code: "UNKNOWN_COURSE", status: 400 });
const retry: boolean = failure.retryable;

// @ts-expect-error xpEarned is required
void activity.end({ totalQuestions: 1, correctQuestions: 1 });
// @ts-expect-error a course is subject and grade, or a code
client.activity.start({ id: "x", name: "X", course: { grade: 3 } });
// @ts-expect-error the client's internals are private
client.post("heartbeat", {}, 1);

function Lesson() {
  const started: Activity | null = useActivity(lesson);
  const same: typeof client | null = useTimeback();
  return createElement("p", null, started?.runId ?? (same ? "starting" : "signed out"));
}
createElement(TimebackProvider, { learner: { email: "ada@example.edu" } }, createElement(Lesson));

provideTimeback(client);
const vueActivity: Activity | null = useVueActivity(() => lesson).value;

const learner = writable<{ email: string } | null>(null);
const store = activityStore(clientStore(learner), lesson);
const unsubscribe: () => void = store.subscribe((value: Activity | null) => value?.pause());

export { ended, tracked, problem, retry, vueActivity, unsubscribe };
