// The hidden timeout counts from the moment the tab was hidden, however late its timer fires.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { createClient } from "timeledger";
import { FakeClock, installDocument, LESSON, recordingFetch, settled, START, windows } from "./fakes.js";

let clock, doc, recorder, calls, client;

beforeEach(() => {
  clock = new FakeClock(START);
  doc = installDocument();
  recorder = recordingFetch();
  calls = [];
  client = createClient({ baseURL: "http://app.test/api/timeback", fetch: recorder.fetch, clock });
});

function start(time = { hiddenTimeoutMs: 60000 }) {
  return client.activity.start({
    ...LESSON, time,
    onPause: () => calls.push(["pause", (clock.now() - START) / 1000]),
    onResume: () => calls.push(["resume", (clock.now() - START) / 1000]),
  });
}

test("timers on time: the hidden time up to the timeout, in 15 s windows", async () => {
  const activity = start();
  clock.advance(20000);
  doc.setHidden(true);
  clock.advance(900000);
  await settled();

  assert.deepEqual(windows(recorder.sent), [
    [0, 15, 15, 0], [15, 30, 5, 10], [30, 45, 0, 15], [45, 60, 0, 15], [60, 75, 0, 15],
    [75, 80, 0, 5]]);
  assert.equal(activity.isPaused, true);
});

test("a throttled tab whose timers fire 14 minutes late reports only the minute to the timeout", async () => {
  const activity = start();
  clock.advance(20000);
  doc.setHidden(true);
  clock.jump(900000); // heartbeat (due at 30 s) and timeout (due at 80 s) both fire at 920 s
  await settled();

  assert.deepEqual(windows(recorder.sent), [[0, 15, 15, 0], [15, 80, 5, 60]]);
  assert.deepEqual(calls, [["pause", 920]]);
  assert.equal(activity.isPaused, true);

  doc.setHidden(false);
  clock.advance(10000);
  await activity.end();
  assert.deepEqual(windows(recorder.sent).slice(2), [[920, 930, 10, 0]]);
  assert.deepEqual(calls, [["pause", 920], ["resume", 920]]);
});

test("coming back before any late timer ran still stops the pause at the timeout", async () => {
  const activity = start();
  clock.advance(20000);
  doc.setHidden(true);
  clock.time += 900000; // the tab's timers never got to run
  doc.setHidden(false);
  clock.advance(5000);
  await activity.end();

  assert.deepEqual(windows(recorder.sent), [[0, 15, 15, 0], [15, 80, 5, 60], [920, 925, 5, 0]]);
  assert.deepEqual(calls, [["pause", 920], ["resume", 920]]);
});

test("ending while hidden past the timeout sends nothing past it", async () => {
  const activity = start();
  clock.advance(20000);
  doc.setHidden(true);
  clock.time += 3600000;
  await activity.end({ xpEarned: 2 });

  assert.deepEqual(windows(recorder.sent), [[0, 15, 15, 0], [15, 80, 5, 60]]);
  const [submit] = recorder.sent.filter((s) => s.route === "submit");
  assert.equal(submit.body.endedAt, new Date(START + 3620000).toISOString());
});

test("a hand-made pause times out the same way", async () => {
  const activity = start({ hiddenTimeoutMs: 30000, heartbeatIntervalMs: 10000 });
  clock.advance(5000);
  activity.pause();
  clock.jump(120000);
  await settled();

  assert.deepEqual(windows(recorder.sent), [[0, 35, 5, 30]]);
  activity.resume();
  clock.advance(10000);
  await settled();
  assert.deepEqual(windows(recorder.sent).slice(1), [[125, 135, 10, 0]]);
});

test("hiddenTimeoutMs: null never stops, and the hidden time is all reported", async () => {
  const activity = start({ hiddenTimeoutMs: null, heartbeatIntervalMs: 60000 });
  clock.advance(20000);
  doc.setHidden(true);
  clock.jump(900000);
  await activity.end();

  assert.deepEqual(windows(recorder.sent), [[0, 920, 20, 900]]);
  assert.deepEqual(calls, []);
});
