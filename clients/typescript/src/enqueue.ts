// enqueue.ts -- jobs enqueued inside the caller's own PostgreSQL transaction,
// through the SQL function jobvisor.enqueue (sql/017_workflows.sql): a job is
// visible to `jobvisor serve` only once the caller's transaction commits.
import type { ClientBase } from "pg";

/** A JSON value as a job's payload may hold it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A job's payload: a JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** The states in which a job may hold its uniqueKey. */
export type UniqueState = "pending" | "running" | "succeeded" | "failed" | "cancelled";

/**
 * A job, as jobvisor.enqueue takes it (its SQL argument in brackets). An
 * absent or null field takes the function's default.
 */
export interface Job {
	/** [type] the executor instance of the config that runs it; 1 to 128 bytes (UTF-8). */
	type: string;
	/** [payload] handed to the executor; a JSON object of at most 1 MiB as JSON text and 512 levels deep. Default {}. */
	payload?: JsonObject | null;
	/** [user_id] for processor.per_user_limit; 1 to 256 bytes. Default none. */
	userId?: string | null;
	/** [scheduled_at] not before this time (a Date or an ISO 8601 string). Default now. */
	scheduledAt?: Date | string | null;
	/** [priority] higher runs first; an integer of 32 bits. Default 0. */
	priority?: number | null;
	/** [max_attempts] 1 to 1000. Default 3. */
	maxAttempts?: number | null;
	/** [timeout_seconds] 1 to 604800 (7 days). Default: the executor's, else processor.timeout_seconds. */
	timeoutSeconds?: number | null;
	/** [unique_key] 1 to 512 bytes: at most one job per key in uniqueStates; the existing job's id is returned. Not with dependsOn. */
	uniqueKey?: string | null;
	/** [unique_states] with uniqueKey: the states in which a job holds its key; must include pending and running. Default both. */
	uniqueStates?: UniqueState[] | null;
	/** [queue] 1 to 64 bytes of a-z, 0-9, _ . - and a queue a processor's config names. Default "default". */
	queue?: string | null;
	/** [depends_on] 1 to 100 ids of existing jobs this one waits for. Not with uniqueKey. */
	dependsOn?: number[] | null;
	/** [run_when] with dependsOn: "success" (default) runs when every dependency succeeded, "always" once all finished. */
	runWhen?: "success" | "always" | null;
}

/** The limits of a job, the same as the table's triggers and the REST API's (docs/design.md). */
export const LIMITS = {
	typeBytes: 128,
	userIdBytes: 256,
	uniqueKeyBytes: 512,
	/** the payload as compact JSON text (PostgreSQL measures payload::text again, which has spaces) */
	payloadBytes: 1048576,
	payloadDepth: 512,
	priority: { min: -2147483648, max: 2147483647 },
	maxAttempts: { min: 1, max: 1000 },
	timeoutSeconds: { min: 1, max: 604800 },
	queue: /^[a-z0-9_.-]{1,64}$/,
	dependsOn: 100,
	/** jobs per enqueueMany call, as POST /api/jobs takes at most */
	enqueueMany: 10000,
} as const;

/** A job refused before it reached the database; field names the place ("jobs[3].maxAttempts"). */
export class JobvisorInputError extends Error {
	readonly field: string;
	constructor(field: string, message: string) {
		super(`${field}: ${message}`);
		this.name = "JobvisorInputError";
		this.field = field;
	}
}

const KNOWN = new Set([
	"type",
	"payload",
	"userId",
	"scheduledAt",
	"priority",
	"maxAttempts",
	"timeoutSeconds",
	"uniqueKey",
	"uniqueStates",
	"queue",
	"dependsOn",
	"runWhen",
]);
const STATES = new Set<string>(["pending", "running", "succeeded", "failed", "cancelled"]);

/** The row of one job for jobvisor.enqueue: its SQL argument names, null for the defaults. */
interface Row {
	type: string;
	payload: JsonObject | null;
	user_id: string | null;
	scheduled_at: string | null;
	priority: number | null;
	max_attempts: number | null;
	timeout_seconds: number | null;
	unique_key: string | null;
	unique_states: string[] | null;
	queue: string | null;
	depends_on: number[] | null;
	run_when: string | null;
}

function bytes(s: string): number {
	return Buffer.byteLength(s, "utf8");
}

function str(where: string, name: string, v: unknown, max: number): string | null {
	if (v === undefined || v === null) return null;
	if (typeof v !== "string") throw new JobvisorInputError(where + name, "must be a string");
	const n = bytes(v);
	if (n < 1 || n > max) throw new JobvisorInputError(where + name, `must be 1 to ${max} bytes, got ${n}`);
	if (v.includes("\u0000")) throw new JobvisorInputError(where + name, "must not contain NUL characters");
	return v;
}

function int(where: string, name: string, v: unknown, lim: { min: number; max: number }): number | null {
	if (v === undefined || v === null) return null;
	if (typeof v !== "number" || !Number.isInteger(v) || v < lim.min || v > lim.max)
		throw new JobvisorInputError(where + name, `must be an integer from ${lim.min} to ${lim.max}, got ${String(v)}`);
	return v;
}

/*
 * The nesting depth of arrays and objects of a JSON value, and whether a
 * string or key holds a NUL (jsonb refuses \u0000). Iterative: no stack
 * overflow on deep input.
 */
function walk(v: unknown): { depth: number; nul: boolean } {
	let max = 0;
	const stack: Array<[unknown, number]> = [[v, 0]];
	while (stack.length > 0) {
		const [x, d] = stack.pop() as [unknown, number];
		if (typeof x === "string") {
			if (x.includes("\u0000")) return { depth: max, nul: true };
			continue;
		}
		if (x === null || typeof x !== "object") continue;
		const here = d + 1;
		if (here > max) max = here;
		if (max > LIMITS.payloadDepth) return { depth: max, nul: false };
		if (Array.isArray(x)) {
			for (const y of x) stack.push([y, here]);
		} else {
			for (const [k, y] of Object.entries(x)) {
				if (k.includes("\u0000")) return { depth: max, nul: true };
				stack.push([y, here]);
			}
		}
	}
	return { depth: max, nul: false };
}

function payload(where: string, v: unknown): JsonObject | null {
	if (v === undefined || v === null) return null;
	if (typeof v !== "object" || Array.isArray(v) || v instanceof Date)
		throw new JobvisorInputError(where + "payload", "must be a JSON object ({...})");
	const w = walk(v);
	if (w.nul)
		throw new JobvisorInputError(where + "payload", "must not contain NUL characters (\\u0000): PostgreSQL's jsonb refuses them");
	if (w.depth > LIMITS.payloadDepth)
		throw new JobvisorInputError(
			where + "payload",
			`nested more than ${LIMITS.payloadDepth} levels deep: at most ${LIMITS.payloadDepth} levels of arrays and objects`,
		);
	let text: string;
	try {
		text = JSON.stringify(v);
	} catch (e) {
		throw new JobvisorInputError(where + "payload", `cannot be stored as JSON: ${(e as Error).message}`);
	}
	const n = bytes(text);
	if (n > LIMITS.payloadBytes)
		throw new JobvisorInputError(
			where + "payload",
			`too large: ${n} bytes as JSON, the limit is ${LIMITS.payloadBytes} bytes (keep large data elsewhere and put its key in the payload)`,
		);
	return v as JsonObject;
}

/** Checks one job against the limits and turns it into jobvisor.enqueue's arguments. */
function toRow(job: unknown, where: string): Row {
	if (job === null || typeof job !== "object" || Array.isArray(job))
		throw new JobvisorInputError(where.replace(/\.$/, "") || "job", 'a job must be an object with at least "type"');
	const j = job as Record<string, unknown>;
	for (const k of Object.keys(j))
		if (!KNOWN.has(k))
			throw new JobvisorInputError(where + k, `unknown field (the fields are ${[...KNOWN].join(", ")})`);
	const type = str(where, "type", j.type, LIMITS.typeBytes);
	if (type === null) throw new JobvisorInputError(where + "type", "required (the job type, an executor of the config)");

	let scheduledAt: string | null = null;
	if (j.scheduledAt !== undefined && j.scheduledAt !== null) {
		const t = j.scheduledAt instanceof Date ? j.scheduledAt : typeof j.scheduledAt === "string" ? new Date(j.scheduledAt) : null;
		if (t === null || Number.isNaN(t.getTime()))
			throw new JobvisorInputError(where + "scheduledAt", "must be a valid Date or an ISO 8601 date-time string");
		scheduledAt = t.toISOString();
	}

	const queue = j.queue === undefined || j.queue === null ? null : j.queue;
	if (queue !== null && (typeof queue !== "string" || !LIMITS.queue.test(queue)))
		throw new JobvisorInputError(where + "queue", "must be 1 to 64 bytes of a-z, 0-9, '_', '.', '-'");

	let states: string[] | null = null;
	if (j.uniqueStates !== undefined && j.uniqueStates !== null) {
		if (!Array.isArray(j.uniqueStates) || j.uniqueStates.length === 0)
			throw new JobvisorInputError(where + "uniqueStates", "must be a non-empty array of job states");
		for (const [i, s] of j.uniqueStates.entries())
			if (typeof s !== "string" || !STATES.has(s))
				throw new JobvisorInputError(`${where}uniqueStates[${i}]`, `must be one of ${[...STATES].join(", ")}`);
		if (!j.uniqueStates.includes("pending") || !j.uniqueStates.includes("running"))
			throw new JobvisorInputError(
				where + "uniqueStates",
				"must include pending and running (one pending or running job per uniqueKey is always the rule)",
			);
		states = [...new Set(j.uniqueStates as string[])];
	}

	let deps: number[] | null = null;
	if (j.dependsOn !== undefined && j.dependsOn !== null) {
		if (!Array.isArray(j.dependsOn)) throw new JobvisorInputError(where + "dependsOn", "must be an array of job ids");
		if (j.dependsOn.length > LIMITS.dependsOn)
			throw new JobvisorInputError(where + "dependsOn", `${j.dependsOn.length} job ids, at most ${LIMITS.dependsOn}`);
		for (const [i, d] of j.dependsOn.entries())
			if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 1)
				throw new JobvisorInputError(`${where}dependsOn[${i}]`, "must be a job id (a positive integer)");
		if (j.dependsOn.length > 0) deps = j.dependsOn as number[];
	}

	const runWhen = j.runWhen === undefined || j.runWhen === null ? null : j.runWhen;
	if (runWhen !== null && runWhen !== "success" && runWhen !== "always")
		throw new JobvisorInputError(where + "runWhen", 'must be "success" or "always"');

	const uniqueKey = str(where, "uniqueKey", j.uniqueKey, LIMITS.uniqueKeyBytes);
	if (uniqueKey !== null && deps !== null)
		throw new JobvisorInputError(where + "uniqueKey", "cannot go with dependsOn (a job with dependencies has no unique key)");
	if (states !== null && uniqueKey === null)
		throw new JobvisorInputError(where + "uniqueStates", "only with uniqueKey");

	return {
		type,
		payload: payload(where, j.payload),
		user_id: str(where, "userId", j.userId, LIMITS.userIdBytes),
		scheduled_at: scheduledAt,
		priority: int(where, "priority", j.priority, LIMITS.priority),
		max_attempts: int(where, "maxAttempts", j.maxAttempts, LIMITS.maxAttempts),
		timeout_seconds: int(where, "timeoutSeconds", j.timeoutSeconds, LIMITS.timeoutSeconds),
		unique_key: uniqueKey,
		unique_states: states,
		queue: queue as string | null,
		depends_on: deps,
		run_when: runWhen as string | null,
	};
}

/** A job id from PostgreSQL's bigint (text in node-postgres). */
function id(v: unknown): number {
	const n = Number(v);
	if (!Number.isSafeInteger(n)) throw new Error(`jobvisor.enqueue returned ${String(v)}, not a job id JavaScript can hold`);
	return n;
}

/** A pg.Client or a pg.PoolClient: the caller's own connection, in the caller's transaction if one is open. */
export type Db = ClientBase;

const ENQUEUE_ONE =
	"SELECT jobvisor.enqueue(type => $1::text, payload => $2::jsonb, user_id => $3::text," +
	" scheduled_at => $4::timestamptz, priority => $5::integer, max_attempts => $6::integer," +
	" timeout_seconds => $7::integer, unique_key => $8::text, unique_states => $9::text[]," +
	" queue => $10::text, depends_on => $11::bigint[], run_when => $12::text)::text AS id";

/*
 * Every job of $1 (a JSON array of rows named as jobvisor.enqueue's
 * arguments) through jobvisor.enqueue, in the order of the array, in one
 * statement: the same rules (limits, queues, unique keys, dependencies) as
 * one call, one round trip whatever the number of jobs.
 */
const ENQUEUE_MANY =
	"SELECT r.i, jobvisor.enqueue(type => r.type, payload => r.payload, user_id => r.user_id," +
	" scheduled_at => r.scheduled_at, priority => r.priority, max_attempts => r.max_attempts," +
	" timeout_seconds => r.timeout_seconds, unique_key => r.unique_key, unique_states => r.unique_states," +
	" queue => r.queue, depends_on => r.depends_on, run_when => r.run_when)::text AS id" +
	" FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, payload jsonb, user_id text," +
	" scheduled_at timestamptz, priority integer, max_attempts integer, timeout_seconds integer," +
	" unique_key text, unique_states text[], queue text, depends_on bigint[], run_when text))" +
	" WITH ORDINALITY AS r(type, payload, user_id, scheduled_at, priority, max_attempts," +
	" timeout_seconds, unique_key, unique_states, queue, depends_on, run_when, i)" +
	" ORDER BY r.i";

/**
 * Enqueues one job on db (a pg.Client or PoolClient), inside whatever
 * transaction db has open: the job runs only if that transaction commits.
 * Returns the job's id (with uniqueKey: the id of the job already holding
 * the key, if one does). Throws JobvisorInputError, before any query, for a
 * job outside the limits; the database's own errors (an unknown queue, an
 * unknown dependency) as node-postgres raises them.
 */
export async function enqueue(db: Db, job: Job): Promise<number> {
	const r = toRow(job, "");
	const res = await db.query<{ id: string }>(ENQUEUE_ONE, [
		r.type,
		r.payload === null ? null : JSON.stringify(r.payload),
		r.user_id,
		r.scheduled_at,
		r.priority,
		r.max_attempts,
		r.timeout_seconds,
		r.unique_key,
		r.unique_states,
		r.queue,
		r.depends_on,
		r.run_when,
	]);
	return id(res.rows[0]?.id);
}

/**
 * Enqueues jobs (at most LIMITS.enqueueMany) on db in one statement, all or
 * nothing, inside the transaction db has open. Returns their ids in the
 * order of jobs. Every job is checked first: the first one outside the
 * limits throws JobvisorInputError naming it ("jobs[17].type: ...") and
 * nothing is sent.
 */
export async function enqueueMany(db: Db, jobs: readonly Job[]): Promise<number[]> {
	if (!Array.isArray(jobs)) throw new JobvisorInputError("jobs", "must be an array of jobs");
	if (jobs.length > LIMITS.enqueueMany)
		throw new JobvisorInputError("jobs", `${jobs.length} jobs, at most ${LIMITS.enqueueMany} per call (split them; each call is one statement)`);
	if (jobs.length === 0) return [];
	const rows = jobs.map((j, i) => toRow(j, `jobs[${i}].`));
	const res = await db.query<{ i: string; id: string }>(ENQUEUE_MANY, [JSON.stringify(rows)]);
	if (res.rows.length !== jobs.length)
		throw new Error(`jobvisor.enqueue answered ${res.rows.length} ids for ${jobs.length} jobs`);
	return res.rows.map((row) => id(row.id));
}
