// timeledger/vue and timeledger/svelte start an activity, and end it time-only when unused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { writable, get } from "svelte/store";
import { activityStore, clientStore } from "timeledger/svelte";
import { useActivity } from "timeledger/vue";
import { effectScope, nextTick, ref, shallowRef } from "vue";
import { createClient } from "timeledger";
import { FakeClock, LESSON, recordingFetch, settled, START, windows } from "./fakes.js";

function setUp() {
  const clock = new FakeClock(START);
  const recorder = recordingFetch();
  const options = { baseURL: "http://app.test/api/timeback", fetch: recorder.fetch, clock };
  return { clock, recorder, options };
}

test("vue: useActivity waits for a client, starts, and ends time-only when its scope goes", async () => {
  const { clock, recorder, options } = setUp();
  const client = shallowRef(null);
  const scope = effectScope();
  const activity = scope.run(() => useActivity({ ...LESSON, time: { heartbeatIntervalMs: 10000 } },
    { client }));
  assert.equal(activity.value, null);

  clock.advance(5000);
  client.value = createClient(options);
  await nextTick();
  const started = activity.value;
  assert.equal(client.value.activity.current, started);
  clock.advance(12000);
  scope.stop();
  await settled();

  assert.equal(activity.value, null);
  assert.equal(started.isEnded, true);
  assert.deepEqual(windows(recorder.sent), [[5, 15, 10, 0], [15, 17, 2, 0]]);
  assert.deepEqual(recorder.sent.map((s) => s.body.runId), [started.runId, started.runId]);
});

test("vue: a new runId ends the old run and starts the next", async () => {
  const { clock, recorder, options } = setUp();
  const client = createClient(options);
  const lesson = ref({ ...LESSON, runId: "3b241101-e2bb-4255-8caf-4136c566a962" });
  const scope = effectScope();
  const activity = scope.run(() => useActivity(lesson, { client }));
  clock.advance(3000);
  lesson.value = { ...LESSON, runId: "3b241101-e2bb-4255-8caf-4136c566a963" };
  await nextTick();
  clock.advance(4000);
  scope.stop();
  await settled();

  assert.deepEqual(recorder.sent.map((s) => [s.body.runId.slice(-1), s.body.elapsedMs]),
    [["2", 3000], ["3", 4000]]);
  assert.equal(activity.value, null);
});

test("svelte: the activity store starts on subscribe and ends on the last unsubscribe", async () => {
  const { clock, recorder, options } = setUp();
  const learner = writable(null);
  const clients = clientStore(learner, options);
  const activity = activityStore(clients, LESSON);
  const seen = [];
  const stop = activity.subscribe((value) => seen.push(value && value.runId));
  const other = activity.subscribe(() => {});
  assert.deepEqual(seen, [null]);

  learner.set({ email: "ada@example.edu" });
  const started = get(activity);
  assert.equal(seen.length, 2);
  assert.equal(seen[1], started.runId);
  assert.equal(get(clients).activity.current, started);
  clock.advance(20000);
  stop();
  assert.equal(started.isEnded, false);
  other();
  await settled();

  assert.equal(started.isEnded, true);
  assert.deepEqual(windows(recorder.sent), [[0, 15, 15, 0], [15, 20, 5, 0]]);
  assert.equal(get(clients).activity.current, null);
});

test("svelte: the same learner keeps the same client; signing out ends the run", async () => {
  const { clock, recorder, options } = setUp();
  const learner = writable({ email: "ada@example.edu" });
  const clients = clientStore(learner, options);
  const activity = activityStore(clients, { ...LESSON, time: { heartbeatIntervalMs: 60000 } });
  const stop = activity.subscribe(() => {});
  const first = get(clients);
  learner.set({ email: "ada@example.edu" });
  assert.equal(get(clients), first);
  clock.advance(7000);
  learner.set(null);
  await settled();

  assert.equal(get(activity), null);
  assert.deepEqual(windows(recorder.sent), [[0, 7, 7, 0]]);
  stop();
});
