// What the unit tests give the client instead of a page: a clock they move, a fetch that
// records, and a document whose visibility they set.

/** A clock whose time moves only when a test says; timers fire in due order. */
export class FakeClock {
  constructor(now) {
    this.time = now;
    this.timers = new Map();
    this.next = 1;
  }

  now() {
    return this.time;
  }

  setTimeout(callback, ms) {
    const id = this.next++;
    this.timers.set(id, { due: this.time + ms, callback });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  /** Move time forward, firing each timer at the moment it is due (a visible tab). */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.due <= end)
        .sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
      if (due.length === 0) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.time = Math.max(this.time, timer.due);
      timer.callback();
    }
    this.time = end;
  }

  /** Jump forward in one step, then fire every overdue timer late (a throttled hidden tab). */
  jump(ms) {
    this.time += ms;
    const due = [...this.timers.entries()].filter(([, t]) => t.due <= this.time)
      .sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
    for (const [id, timer] of due) {
      if (!this.timers.has(id)) continue;
      this.timers.delete(id);
      timer.callback();
    }
  }
}

/** A fetch answering 204 to everything, keeping each request's route and JSON body. */
export function recordingFetch() {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({ route: String(url).split("/").pop(), body: JSON.parse(init.body) });
    return new Response(null, { status: 204 });
  };
  return { fetch, sent };
}

/** A document the client can watch: `setHidden(true)` fires visibilitychange. */
export function installDocument() {
  const doc = new EventTarget();
  doc.visibilityState = "visible";
  doc.setHidden = (hidden) => {
    doc.visibilityState = hidden ? "hidden" : "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
  };
  globalThis.document = doc;
  return doc;
}

/** Let queued promise work (sending) run to completion. */
export async function settled() {
  for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

export const START = Date.UTC(2025, 0, 15, 10, 0, 0);
export const LESSON = { id: "lesson-1", name: "Lesson 1", course: { subject: "Math", grade: 3 } };

/** The heartbeat windows sent, as [start s, end s, active s, paused s] from START. */
export function windows(sent) {
  return sent.filter((s) => s.route === "heartbeat").map(({ body }) => [
    (Date.parse(body.startedAt) - START) / 1000, (Date.parse(body.endedAt) - START) / 1000,
    body.elapsedMs / 1000, body.pausedMs / 1000]);
}
