// rest.test.ts -- the REST client on the main routes of a real
// `jobvisor serve`; its types checked by tsc --strict as it is written.
import assert from "node:assert/strict";
import { test } from "node:test";
import { JobvisorApiError, JobvisorClient, type Health, type JobStatus } from "../src/index.js";
import { api, apiUrl } from "./env.js";

function isApiError(status: number, re: RegExp) {
	return (e: unknown): boolean => {
		assert.ok(e instanceof JobvisorApiError, `a JobvisorApiError, got ${String(e)}`);
		assert.equal(e.status, status, e.message);
		assert.match(e.error, re);
		return true;
	};
}

test("health, status, queue, metrics and the API's own document", async () => {
	// healthy or not (a busy machine may delay a heartbeat), the answer is a Health
	const h: Health = await api.cronHealth();
	assert.ok(h.status === "healthy" || h.status === "unhealthy");
	assert.equal(h.database.reachable, true);
	assert.ok(Array.isArray(h.problems));
	const s = await api.cronStatus();
	assert.ok(s.processor.id !== undefined && s.processor.id > 0);
	const q = await api.cronQueue();
	assert.equal(typeof q.byStatus?.pending, "number");
	const m = await api.metrics();
	assert.match(m, /^jobvisor_database_up 1$/m);
	const doc = await api.openapi();
	assert.equal((doc as { openapi?: string }).openapi, "3.0.3");
	const w = await api.cronMetrics({ bucket: "hour" });
	assert.equal(typeof w.sampled, "boolean");
});

test("errors carry the status and the server's error", async () => {
	const wrong = new JobvisorClient({ baseUrl: apiUrl, token: "wrong" });
	await assert.rejects(wrong.cronStatus(), isApiError(401, /./));
	await assert.rejects(api.getJob(2 ** 52), isApiError(404, /./));
	// a field the document does not know, as a JavaScript caller could send it
	await assert.rejects(api.createJob({ type: "noop", colour: "red" } as never), isApiError(400, /unknown key 'colour'/));
	await assert.rejects(api.listJobs({ limit: 0 }), isApiError(400, /limit/));
});

test("jobs: create one and many, list, get, cancel, retry", async () => {
	const one = await api.createJob({ type: "noop", user: "rest-user", payload: {} });
	assert.equal(one.created, true);
	const done = await api.waitForJob(one.id, { timeoutMs: 20000 });
	const succeeded: JobStatus = "succeeded";
	assert.equal(done.status, succeeded);
	assert.equal(done.executions?.length, 1);

	const later = new Date(Date.now() + 3600_000).toISOString();
	const many = await api.createJob([
		{ type: "noop", runAt: later },
		{ type: "noop", runAt: later, user: "rest-user" },
	]);
	assert.equal(many.ids.length, 2);
	const page = await api.listJobs({ user: "rest-user", limit: 10 });
	assert.ok(page.jobs.some((j) => j.id === many.ids[1]));
	assert.ok(page.jobs.some((j) => j.id === one.id));

	// a retried job is due at once: claiming paused while it must stay pending
	await api.cronStop();
	try {
		const c = await api.cancelJob(many.ids[0]!);
		assert.equal(c.was, "pending");
		await assert.rejects(api.cancelJob(many.ids[0]!), isApiError(409, /./));
		const r = await api.retryJob(many.ids[0]!, { attempts: 1 });
		assert.equal(r.status, "pending");
		const cs = await api.cancelJobs({ ids: [many.ids[0]!, many.ids[1]!] });
		assert.deepEqual([...cs.changed].sort(), [...many.ids].sort());
		const rs = await api.retryJobs({ ids: [many.ids[1]!] });
		assert.deepEqual(rs.changed, [many.ids[1]]);
		await api.cancelJobs({ ids: [many.ids[1]!] });
	} finally {
		await api.cronStart();
	}
});

test("schedules: create, list, update, delete", async () => {
	const name = `ts-${process.pid}`;
	const s = await api.createSchedule({ name, cron: "@daily", type: "noop" });
	assert.equal(s.name, name);
	assert.equal(s.nextRuns.length, 5);
	const l = await api.listSchedules({ limit: 100 });
	assert.ok(l.schedules.some((x) => x.name === name));
	const u = await api.updateSchedule(name, { enabled: false });
	assert.equal(u.enabled, false);
	const d = await api.deleteSchedule(name);
	assert.equal(d.deleted, true);
	await assert.rejects(api.deleteSchedule(name), isApiError(404, /./));
});

test("queues and users: pause, resume, limits", async () => {
	const qs = await api.listQueues();
	assert.ok(qs.queues.some((q) => q.name === "default"));
	assert.equal((await api.pauseQueue("default")).paused, true);
	assert.equal((await api.resumeQueue("default")).paused, false);
	const put = await api.putUserLimits("rest-user", { maxRunning: 2, weight: 3 });
	assert.equal(put.maxRunning, 2);
	const got = await api.getUserLimits("rest-user");
	assert.equal(got.overridden, true);
	const users = await api.listUsers({ limit: 100 });
	assert.ok(users.users.some((u) => u.userId === "rest-user"));
	await api.deleteUserLimits("rest-user");
});

test("workflows: create, get, list, cancel", async () => {
	const later = new Date(Date.now() + 3600_000).toISOString();
	const wf = await api.createWorkflow({
		name: "ts-flow",
		jobs: [
			{ key: "a", type: "noop", runAt: later },
			// docs/openapi.yaml types a step as NewJob (dependsOn: ids) & {dependsOn: keys}:
			// string[] & number[], which nothing satisfies until the document is fixed
			{ key: "b", type: "noop", dependsOn: ["a"] as never },
		],
	});
	assert.ok(wf.id !== undefined && wf.jobs?.["a"] !== undefined);
	const g = await api.getWorkflow(wf.id);
	assert.deepEqual(g.steps?.map((s) => [s.key, s.status]), [["a", "pending"], ["b", "waiting"]]);
	const l = await api.listWorkflows({ limit: 10 });
	assert.ok(l.workflows.some((w) => w.id === wf.id));
	const c = await api.cancelWorkflow(wf.id);
	assert.equal(c.cancelled, 2);
});

test("claiming: stop, start, trigger", async () => {
	const stopped = await api.cronStop();
	assert.equal(stopped.state, "paused");
	const started = await api.cronStart({});
	assert.equal(started.state, "running");
	const t = await api.cronTrigger();
	assert.equal(t.triggered, true);
});

test("access: who the token is, and the audit trail of its changes", async () => {
	const me = await api.whoami();
	assert.equal(me.role, "admin");
	assert.equal(typeof me.name, "string");
	await api.cronTrigger();
	// rows are written a moment after the answer: a bounded wait
	const deadline = Date.now() + 10_000;
	for (;;) {
		const page = await api.listAudit({ limit: 50 });
		const row = page.entries.find((e) => e.path === "/api/cron/trigger" && e.token === me.name);
		if (row) {
			assert.equal(row.method, "POST");
			assert.equal(row.status, 202);
			const next: number | null = page.next;
			assert.ok(next === null || typeof next === "number");
			break;
		}
		assert.ok(Date.now() < deadline, "the trigger's audit row within 10 s");
		await new Promise((r) => setTimeout(r, 100));
	}
});
