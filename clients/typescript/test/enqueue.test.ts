// enqueue.test.ts -- enqueue and enqueueMany in the caller's transaction,
// against the real database and `jobvisor serve` of check.sh.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { enqueue, enqueueMany, JobvisorApiError, JobvisorInputError, LIMITS, type JobOptions } from "../src/index.js";
import { api, connect, countCommitted } from "./env.js";

let db: pg.Client;
before(async () => {
	db = await connect();
});
after(async () => {
	await db.end();
});

describe("enqueue in the caller's transaction", () => {
	test("a job enqueued in a rolled-back transaction never exists, so never runs", async () => {
		await db.query("BEGIN");
		const id = await enqueue(db, { type: "noop", payload: { output: "rolled back" } });
		assert.ok(Number.isSafeInteger(id) && id > 0, `an id, got ${id}`);
		await db.query("ROLLBACK");
		// A job committed after it runs; by then serve has had every chance
		// to see the rolled-back one, and there is none to see.
		const marker = await enqueue(db, { type: "noop" });
		const done = await api.waitForJob(marker, { timeoutMs: 20000 });
		assert.equal(done.status, "succeeded");
		await assert.rejects(api.getJob(id), (e: unknown) => e instanceof JobvisorApiError && e.status === 404);
		assert.equal(await countCommitted([id]), 0);
	});

	test("a job enqueued in a committed transaction runs; before the commit nobody sees it", async () => {
		await db.query("BEGIN");
		const id = await enqueue(db, {
			type: "noop",
			payload: { output: "committed", data: { n: 1, s: "é" } },
			userId: "alice",
			priority: 5,
			maxAttempts: 2,
			timeoutSeconds: 30,
			queue: "default",
		});
		// not visible to the API (another connection) until the commit
		await assert.rejects(api.getJob(id), (e: unknown) => e instanceof JobvisorApiError && e.status === 404);
		await db.query("COMMIT");
		const job = await api.waitForJob(id, { timeoutMs: 20000 });
		assert.equal(job.status, "succeeded");
		assert.equal(job.user, "alice");
		assert.equal(job.priority, 5);
		assert.equal(job.maxAttempts, 2);
		assert.deepEqual(job.payload, { output: "committed", data: { n: 1, s: "é" } });
		assert.equal(job.executions?.[0]?.output, "committed");
	});

	test("options reach jobvisor.enqueue: scheduledAt, uniqueKey with uniqueStates, dependsOn with runWhen", async () => {
		const later = new Date(Date.now() + 3600_000);
		await db.query("BEGIN");
		try {
			const a = await enqueue(db, { type: "noop", scheduledAt: later, uniqueKey: `ts-key-${process.pid}` });
			const again = await enqueue(db, {
				type: "noop",
				uniqueKey: `ts-key-${process.pid}`,
				uniqueStates: ["pending", "running", "succeeded"],
			});
			assert.equal(again, a, "the same uniqueKey answers the job holding it");
			const b = await enqueue(db, { type: "noop", dependsOn: [a], runWhen: "always" });
			const r = await db.query<{ scheduled_at: Date; status: string; run_when: string }>(
				"SELECT scheduled_at, status, run_when FROM jobvisor.jobs WHERE id = ANY ($1::bigint[]) ORDER BY id",
				[[a, b]],
			);
			assert.equal(r.rows[0]?.scheduled_at.getTime(), later.getTime());
			assert.equal(r.rows[1]?.status, "waiting");
			assert.equal(r.rows[1]?.run_when, "always");
		} finally {
			await db.query("ROLLBACK");
		}
	});
});

describe("enqueueMany", () => {
	test("1 000 jobs in one transaction, one statement: ids in order, invisible until the commit", async () => {
		const later = new Date(Date.now() + 3600_000);
		const jobs: JobOptions[] = [];
		for (let i = 0; i < 1000; i++)
			jobs.push({ type: "noop", payload: { data: { i } }, userId: `u${i % 7}`, scheduledAt: later, priority: i % 3 });
		let statements = 0;
		const counting = new Proxy(db, {
			get(t, p, r) {
				if (p === "query")
					return (...args: unknown[]) => {
						statements++;
						return (t.query as (...a: unknown[]) => unknown).apply(t, args);
					};
				return Reflect.get(t, p, r) as unknown;
			},
		});
		await db.query("BEGIN");
		const t0 = process.hrtime.bigint();
		const ids = await enqueueMany(counting, jobs);
		const ms = Number(process.hrtime.bigint() - t0) / 1e6;
		console.log(`enqueueMany: 1000 jobs in ${ms.toFixed(1)} ms (one statement)`);
		assert.equal(statements, 1, "one statement for the 1 000 jobs");
		assert.equal(ids.length, 1000);
		for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, "ids in the order of the array");
		assert.equal(await countCommitted(ids), 0, "nothing visible before the commit");
		const r = await db.query<{ id: string; i: string }>(
			"SELECT id, payload #>> '{data,i}' AS i FROM jobvisor.jobs WHERE id = ANY ($1::bigint[])",
			[ids],
		);
		for (const row of r.rows) assert.equal(ids[Number(row.i)], Number(row.id), "each id is its own job's");
		await db.query("COMMIT");
		assert.equal(await countCommitted(ids), 1000);
		// scheduled an hour ahead: cancel them (1 000 ids, the route's maximum)
		const c = await api.cancelJobs({ ids });
		assert.equal(c.changed.length, 1000);
	});

	test("all or nothing: an unknown dependency in one element inserts none", async () => {
		await db.query("BEGIN");
		await assert.rejects(
			enqueueMany(db, [{ type: "noop" }, { type: "noop", dependsOn: [2 ** 52] }]),
			/unknown dependency/,
		);
		await db.query("ROLLBACK");
		const r = await db.query<{ n: string }>("SELECT count(*) AS n FROM jobvisor.jobs WHERE payload ? 'never'");
		assert.equal(r.rows[0]?.n, "0");
	});

	test("in one statement, a later element sees an earlier one: a repeated uniqueKey, a dependency", async () => {
		await db.query("BEGIN");
		try {
			const key = `ts-many-${process.pid}`;
			const later = new Date(Date.now() + 3600_000);
			const [a, b, c] = await enqueueMany(db, [
				{ type: "noop", uniqueKey: key, scheduledAt: later },
				{ type: "noop", uniqueKey: key },
				{ type: "noop", payload: { data: "other" } },
			]);
			assert.equal(b, a, "the second holder of the key is the first job");
			assert.notEqual(c, a);
			const [d] = await enqueueMany(db, [{ type: "noop", dependsOn: [a!, c!] }]);
			const r = await db.query<{ status: string }>("SELECT status FROM jobvisor.jobs WHERE id = $1", [d]);
			assert.equal(r.rows[0]?.status, "waiting");
		} finally {
			await db.query("ROLLBACK");
		}
	});

	test("an empty array sends nothing and answers []", async () => {
		assert.deepEqual(await enqueueMany(db, []), []);
	});
});

describe("bad input is refused before anything is sent", () => {
	const bad: Array<[string, unknown, RegExp]> = [
		["no type", {}, /^type: required/],
		["empty type", { type: "" }, /^type: must be 1 to 128 bytes, got 0/],
		["type too long", { type: "x".repeat(129) }, /^type: must be 1 to 128 bytes, got 129/],
		["type of 43 three-byte characters", { type: "€".repeat(43) }, /^type: must be 1 to 128 bytes, got 129/],
		["userId too long", { type: "noop", userId: "u".repeat(257) }, /^userId: must be 1 to 256 bytes/],
		["uniqueKey too long", { type: "noop", uniqueKey: "k".repeat(513) }, /^uniqueKey: must be 1 to 512 bytes/],
		["payload an array", { type: "noop", payload: [1] }, /^payload: must be a JSON object/],
		["payload too large", { type: "noop", payload: { data: "x".repeat(LIMITS.payloadBytes) } }, /^payload: too large: 1048587 bytes/],
		["payload too deep", { type: "noop", payload: { data: JSON.parse("[".repeat(600) + "]".repeat(600)) as unknown } }, /^payload: nested more than 512/],
		["payload with a NUL", { type: "noop", payload: { data: "a\u0000b" } }, /^payload: must not contain NUL/],
		["payload with a bigint", { type: "noop", payload: { data: 1n } }, /^payload: cannot be stored as JSON/],
		["maxAttempts 0", { type: "noop", maxAttempts: 0 }, /^maxAttempts: must be an integer from 1 to 1000, got 0/],
		["maxAttempts 1001", { type: "noop", maxAttempts: 1001 }, /^maxAttempts: must be an integer from 1 to 1000/],
		["timeoutSeconds 0", { type: "noop", timeoutSeconds: 0 }, /^timeoutSeconds: must be an integer from 1 to 604800/],
		["timeoutSeconds 604801", { type: "noop", timeoutSeconds: 604801 }, /^timeoutSeconds: must be an integer from 1 to 604800/],
		["priority 1.5", { type: "noop", priority: 1.5 }, /^priority: must be an integer/],
		["priority past int32", { type: "noop", priority: 2 ** 31 }, /^priority: must be an integer/],
		["queue with capitals", { type: "noop", queue: "Mail" }, /^queue: must be 1 to 64 bytes of a-z/],
		["queue too long", { type: "noop", queue: "q".repeat(65) }, /^queue: must be 1 to 64 bytes/],
		["scheduledAt not a date", { type: "noop", scheduledAt: "tomorrow" }, /^scheduledAt: must be a valid Date/],
		["uniqueStates without running", { type: "noop", uniqueKey: "k", uniqueStates: ["pending"] }, /^uniqueStates: must include pending and running/],
		["uniqueStates unknown", { type: "noop", uniqueKey: "k", uniqueStates: ["pending", "running", "done"] }, /^uniqueStates\[2\]: must be one of/],
		["uniqueStates without uniqueKey", { type: "noop", uniqueStates: ["pending", "running"] }, /^uniqueStates: only with uniqueKey/],
		["101 dependencies", { type: "noop", dependsOn: Array.from({ length: 101 }, (_, i) => i + 1) }, /^dependsOn: 101 job ids, at most 100/],
		["a dependency 0", { type: "noop", dependsOn: [0] }, /^dependsOn\[0\]: must be a job id/],
		["dependsOn with uniqueKey", { type: "noop", dependsOn: [1], uniqueKey: "k" }, /^uniqueKey: cannot go with dependsOn/],
		["runWhen unknown", { type: "noop", runWhen: "sometimes" }, /^runWhen: must be "success" or "always"/],
		["an unknown field", { type: "noop", user: "alice" }, /^user: unknown field/],
	];
	for (const [what, job, msg] of bad) {
		test(what, async () => {
			await db.query("BEGIN");
			try {
				await assert.rejects(enqueue(db, job as JobOptions), (e: unknown) => {
					assert.ok(e instanceof JobvisorInputError, `a JobvisorInputError, got ${String(e)}`);
					assert.match(e.message, msg);
					return true;
				});
				// in enqueueMany, the element is named
				await assert.rejects(enqueueMany(db, [{ type: "noop" }, job as JobOptions]), (e: unknown) => {
					assert.ok(e instanceof JobvisorInputError);
					assert.match(e.message, new RegExp("^jobs\\[1\\]\\." + msg.source.slice(1)));
					assert.ok(e.field.startsWith("jobs[1]."), e.field);
					return true;
				});
				// the transaction is still usable: nothing reached the database
				const r = await db.query<{ n: string }>("SELECT count(*) AS n FROM jobvisor_test.enqueued()");
				assert.equal(r.rows[0]?.n, "0");
			} finally {
				await db.query("ROLLBACK");
			}
		});
	}

	test("more than 10 000 jobs in one enqueueMany", async () => {
		const jobs = Array.from({ length: LIMITS.enqueueMany + 1 }, () => ({ type: "noop" }));
		await assert.rejects(enqueueMany(db, jobs), /^JobvisorInputError: jobs: 10001 jobs, at most 10000 per call/);
	});

	test("the database's own refusal comes through: an unknown queue", async () => {
		await db.query("BEGIN");
		try {
			await assert.rejects(enqueue(db, { type: "noop", queue: "nosuchqueue" }), /unknown queue/);
		} finally {
			await db.query("ROLLBACK");
		}
	});
});
