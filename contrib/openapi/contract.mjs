// contract.mjs -- the contract test of docs/openapi.yaml against a running
// `jobvisor serve` (contrib/openapi-check.sh starts it and sets the
// environment): every operation of the document is sent a valid request and
// an invalid one (CASES below), and each answer is checked against the
// document: its status is one the operation documents, its body validates
// against that response's schema (closed schemas catch an undocumented
// field), its content type is a documented one and its required headers are
// there. A valid request's body and query arguments must validate against
// the document too (a typed client builds them from it), and an invalid
// body the server refuses must be refused by the document's schema as well.
// The test fails when an operation of the document was not exercised both
// ways.
//
// Environment: JV_API (http://127.0.0.1:PORT), JV_TOKEN (api.token),
// JV_HOOK (api.webhook_secret), JV_CONTRACT_DUMP (a file to append every
// answer to, to look at), JV_DOC (docs/openapi.yaml as JSON, the file
// the build embeds; default: GET /api/openapi.json).
//
// A new route: add its operation to docs/openapi.yaml, then at least one
// case with `valid: true` and one with `valid: false` for its operationId
// to CASES; `save` keeps ids for later cases, `then` adds checks of its own.
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { appendFileSync, readFileSync } from "node:fs";
import http from "node:http";

const API = process.env.JV_API;
const TOKEN = process.env.JV_TOKEN;
const VIEWER = process.env.JV_VIEWER;
const HOOK = process.env.JV_HOOK;
if (!API || !TOKEN || !HOOK) {
	console.error("contract.mjs: set JV_API, JV_TOKEN and JV_HOOK (contrib/openapi-check.sh does)");
	process.exit(2);
}

let failed = 0, passed = 0;
const fail = (msg) => { failed++; console.log(`FAIL: ${msg}`); };
const ok = (msg) => { passed++; console.log(`ok ${passed} - ${msg}`); };

// ------------------------------------------------------------ the document
const doc = process.env.JV_DOC
	? JSON.parse(readFileSync(process.env.JV_DOC, "utf8"))
	: await (await fetch(`${API}/api/openapi.json`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();

// OpenAPI 3.0 schemas as JSON Schema (draft 7) for ajv: the boolean
// exclusiveMinimum/Maximum of 3.0 become numbers; nullable is ajv's own
// keyword (it insists on a type beside it, as the OpenAPI spec does).
function toJsonSchema(s) {
	if (Array.isArray(s)) return s.map(toJsonSchema);
	if (!s || typeof s !== "object") return s;
	const o = {};
	for (const [k, v] of Object.entries(s)) {
		if (k === "$ref") o[k] = v.replace(/^#\/components\/schemas\//, "doc#/definitions/");

		else if ((k === "exclusiveMinimum" || k === "exclusiveMaximum") && typeof v === "boolean") {
			const bound = k === "exclusiveMinimum" ? "minimum" : "maximum";
			if (v && s[bound] !== undefined) o[k] = s[bound];
		} else o[k] = toJsonSchema(v);
	}
	if (s.exclusiveMinimum === true) delete o.minimum;
	if (s.exclusiveMaximum === true) delete o.maximum;
	return o;
}

const ajv = new Ajv({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
addFormats(ajv);
ajv.addFormat("int64", { type: "number", validate: Number.isInteger });
ajv.addFormat("int32", { type: "number", validate: Number.isInteger });
ajv.addVocabulary(["discriminator", "example", "externalDocs", "xml"]);
ajv.addSchema({ $id: "doc", definitions: toJsonSchema(doc.components.schemas) });
const compiled = new Map();
function validator(schema) {
	const key = JSON.stringify(schema);
	if (!compiled.has(key)) compiled.set(key, ajv.compile(toJsonSchema(schema)));
	return compiled.get(key);
}
const deref = (x) => {
	while (x && x.$ref) x = x.$ref.slice(2).split("/").reduce((o, k) => o[k], doc);
	return x;
};
const errs = (v) => v.errors.map((e) => `${e.instancePath || "/"} ${e.message}` +
	(e.params.additionalProperty ? ` (${e.params.additionalProperty})` : "")).join("; ");

// operationId -> {method, path, op, params}
const ops = new Map();
for (const [path, item] of Object.entries(doc.paths))
	for (const method of ["get", "put", "post", "delete", "patch"])
		if (item[method])
			ops.set(item[method].operationId, {
				method, path, op: item[method],
				params: [...(item.parameters || []), ...(item[method].parameters || [])].map(deref),
			});

// ------------------------------------------------------------ the requests
const ctx = {}; // ids kept by the cases' save()
const exercised = new Map(); // operationId -> {valid, invalid}

async function send(c) {
	const o = ops.get(c.op);
	if (!o) return fail(`${c.op}: no such operation in the document`);
	const what = `${c.op} ${c.valid ? "valid" : "invalid"}: ${c.name}`;
	const pathParams = typeof c.path === "function" ? c.path(ctx) : c.path || {};
	const query = typeof c.query === "function" ? c.query(ctx) : c.query || {};
	const body = typeof c.body === "function" ? c.body(ctx) : c.body;
	let path = o.path.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(pathParams[k]));
	const qs = new URLSearchParams(query).toString();
	if (qs) path += `?${qs}`;
	const headers = { ...(c.headers || {}) };
	const auth = c.auth || "bearer";
	if (auth === "bearer") headers.Authorization = `Bearer ${TOKEN}`;
	if (auth === "wrong") headers.Authorization = `Bearer wrong-${TOKEN}`;
	if (auth === "viewer") headers.Authorization = `Bearer ${VIEWER}`;
	if (auth === "hook") headers["X-Webhook-Secret"] = HOOK;
	if (auth === "wronghook") headers["X-Webhook-Secret"] = `wrong-${HOOK}`;
	if (body !== undefined) headers["Content-Type"] = "application/json";
	const method = (c.method || o.method).toUpperCase();

	// a valid request is valid by the document too
	if (c.valid) {
		for (const [k, v] of Object.entries(query)) {
			const p = o.params.find((p) => p.in === "query" && p.name === k);
			if (!p) { fail(`${what}: query argument ${k} is not documented`); continue; }
			let val = v;
			if (["integer", "number"].includes(p.schema.type)) val = Number(v);
			if (p.schema.type === "boolean") val = v === "true" ? true : v === "false" ? false : v;
			const vq = validator(p.schema);
			if (!vq(val)) fail(`${what}: query ${k}=${v} is refused by the document: ${errs(vq)}`);
		}
		if (body !== undefined) {
			const rb = deref(o.op.requestBody);
			const s = rb?.content?.["application/json"]?.schema;
			if (!s) fail(`${what}: sends a body the document does not describe`);
			else {
				const vb = validator(s);
				if (!vb(body)) fail(`${what}: the body is refused by the document: ${errs(vb)} (${JSON.stringify(body)})`);
			}
		}
	} else if (c.badBody) {
		const s = deref(o.op.requestBody)?.content?.["application/json"]?.schema;
		if (s && validator(s)(body)) fail(`${what}: the server refuses the body but the document takes it: ${JSON.stringify(body)}`);
	}

	const res = c.announce
		? await announced(API + path, method, headers, c.announce)
		: await fetch(API + path, {
			method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			redirect: "manual", signal: AbortSignal.timeout(15000),
		});
	const text = await res.text();
	if (process.env.JV_CONTRACT_DUMP) // every answer, to look at
		appendFileSync(process.env.JV_CONTRACT_DUMP, `### ${what}: ${res.status}\n${text.slice(0, 20000)}\n`);
	const e = exercised.get(c.op) || { valid: 0, invalid: 0 };
	e[c.valid ? "valid" : "invalid"]++;
	exercised.set(c.op, e);

	let good = true;
	const bad = (m) => { good = false; fail(`${what}: ${method} ${path} -> ${res.status}: ${m}`); };
	if (res.status !== c.expect) bad(`expected status ${c.expect}; body ${text.slice(0, 300)}`);
	const r = deref(o.op.responses[String(res.status)] || o.op.responses.default);
	if (!r) {
		bad(`status ${res.status} is not documented for ${c.op}`);
		return;
	}
	for (const [h, hv] of Object.entries(r.headers || {}))
		if (deref(hv).required && !res.headers.has(h)) bad(`the required header ${h} is missing`);
	const ct = res.headers.get("content-type");
	const content = r.content || {};
	if (Object.keys(content).length === 0) {
		if (text.length) bad(`a body the document does not describe: ${text.slice(0, 200)}`);
	} else {
		const base = (t) => (t || "").split(";")[0].trim().toLowerCase();
		const key = Object.keys(content).find((k) => base(k) === base(ct));
		if (!key) bad(`content type ${ct} is not one of ${Object.keys(content).join(", ")}`);
		else if (base(key) === "application/json") {
			let json;
			try { json = JSON.parse(text); } catch { bad(`the body is not JSON: ${text.slice(0, 200)}`); }
			if (json !== undefined && content[key].schema) {
				const v = validator(content[key].schema);
				if (!v(json)) bad(`the body does not match the document: ${errs(v)}\n  body: ${text.slice(0, 1500)}`);
			}
			if (json !== undefined && good && c.then) {
				const m = c.then(json, ctx, res);
				if (m) bad(m);
			}
			if (json !== undefined && good && c.save) c.save(json, ctx);
		}
	}
	if (good) ok(`${what}: ${res.status}`);
}

// A request that announces a body of BYTES (Content-Length) and sends none
// of it: the answer to its head alone, as fetch's {status, headers, text()}.
// (Sending the body would race the server closing the connection after
// its early answer.)
function announced(url, method, headers, bytes) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, headers: { ...headers, "Content-Length": bytes }, timeout: 15000 });
		req.on("timeout", () => req.destroy(new Error("no answer within 15 s")));
		req.on("error", reject);
		req.on("response", (r) => {
			let t = "";
			r.setEncoding("utf8");
			r.on("data", (d) => { t += d; });
			r.on("end", () => {
				req.destroy();
				const h = new Headers();
				for (const [k, v] of Object.entries(r.headers)) h.set(k, String(v));
				resolve({ status: r.statusCode, headers: h, text: async () => t });
			});
		});
		req.flushHeaders();
	});
}

// Wait (bounded) until FN(ctx) is true, polling GET PATH.
async function until(path, fn, what, seconds = 20) {
	const end = Date.now() + seconds * 1000;
	for (;;) {
		const r = await fetch(API + path, { headers: { Authorization: `Bearer ${TOKEN}` } });
		const j = await r.json();
		if (fn(j)) return j;
		if (Date.now() > end) throw new Error(`contract.mjs: ${what}: not within ${seconds} s; last answer ${JSON.stringify(j).slice(0, 300)}`);
		await new Promise((res) => setTimeout(res, 100));
	}
}

const future = () => new Date(Date.now() + 3600e3).toISOString();
const big = 999999999;

// ------------------------------------------------------------ the cases
// op: operationId; valid: a request the server takes (else one it refuses);
// expect: the status; path/query/body: values or functions of ctx; auth:
// bearer (default, an admin) | viewer | none | wrong | hook | wronghook;
// method: to override;
// announce: a Content-Length of that many bytes, with no body sent;
// badBody: the body is bad by the document too; save(json, ctx): keep ids;
// then(json, ctx): a message when a check of its own fails.
const CASES = [
	// ---- cron
	{ op: "cronHealth", valid: true, name: "healthy, no token", auth: "none", expect: 200 },
	{ op: "cronHealth", valid: false, name: "an unknown query argument", auth: "none", query: { x: "1" }, expect: 400 },
	{ op: "cronStatus", valid: false, name: "a wrong token", auth: "wrong", expect: 401 },
	{ op: "cronTrigger", valid: false, name: "a viewer's token", auth: "viewer", expect: 403 },
	{ op: "cronQueue", valid: false, name: "an unknown query argument", query: { nope: "1" }, expect: 400 },
	{ op: "cronStop", valid: true, name: "pause claiming", expect: 200 },
	{ op: "cronStop", valid: false, name: "no token", auth: "none", expect: 401 },
	{ op: "cronStart", valid: true, name: "resume with a batch size", body: { batchSize: 2 }, expect: 200 },
	{ op: "cronStart", valid: false, name: "batchSize 0", body: { batchSize: 0 }, badBody: true, expect: 400 },
	{ op: "cronStart", valid: true, name: "resume, no body", expect: 200 },
	{ op: "cronStart", valid: false, name: "a body past api.max_body_bytes (2 MiB) announced", announce: 3 << 20, expect: 413 },
	{ op: "cronTrigger", valid: true, name: "claim now", expect: 202 },
	{ op: "cronTrigger", valid: false, name: "a wrong token", auth: "wrong", expect: 401 },
	{ op: "cronResetStuckJobs", valid: true, name: "a 60 min horizon", body: { timeoutMinutes: 60 }, expect: 200 },
	{ op: "cronResetStuckJobs", valid: false, name: "a negative horizon", body: { timeoutMinutes: -1 }, badBody: true, expect: 400 },
	{ op: "cronWebhook", valid: true, name: "the secret", auth: "hook", expect: 202 },
	{ op: "cronWebhook", valid: false, name: "a wrong secret", auth: "wronghook", expect: 401 },

	// ---- jobs
	{ op: "createJob", valid: true, name: "a free-form payload", body: { type: "noop", payload: { sleep_ms: 10, result: { a: [1, "x"] }, output: "hi" }, user: "alice" },
		expect: 201, save: (j, c) => { c.done = j.id; } },
	{ op: "createJob", valid: true, name: "an array", body: [{ type: "noop" }, { type: "noop", queue: "default", priority: 1 }], expect: 201, save: (j, c) => { c.pair = j.ids; } },
	{ op: "createJob", valid: true, name: "in an hour, unique", body: { type: "noop", runAt: future(), uniqueKey: "contract-1", timeoutSeconds: 30, maxAttempts: 2 },
		expect: 201, save: (j, c) => { c.later = j.id; } },
	{ op: "createJob", valid: true, name: "the same uniqueKey", body: { type: "noop", runAt: future(), uniqueKey: "contract-1" }, expect: 200,
		then: (j, c) => (j.id === c.later ? null : `answered ${j.id}, not the existing ${c.later}`) },
	{ op: "createJob", valid: true, name: "a failing job", body: { type: "noop", payload: { outcome: "permanent", error: "as asked" } }, expect: 201, save: (j, c) => { c.failing = j.id; } },
	{ op: "createJob", valid: false, name: "an empty type", body: { type: "" }, badBody: true, expect: 400 },
	{ op: "createJob", valid: false, name: "an unknown key", body: { type: "noop", colour: "red" }, badBody: true, expect: 400 },
	{ op: "listJobs", valid: true, name: "a page of one", query: { limit: "1" }, expect: 200,
		then: (j) => (Number.isInteger(j.next) ? null : `next is ${JSON.stringify(j.next)}, not an integer`) },
	{ op: "listJobs", valid: true, name: "the next page", query: (c) => ({ limit: "1", after: String(c.later) }), expect: 200 },
	{ op: "listJobs", valid: true, name: "searching lastError", query: { q: "as asked", status: "failed" }, expect: 200 },
	{ op: "listJobs", valid: false, name: "limit 0", query: { limit: "0" }, expect: 400 },
	{ op: "getJob", valid: false, name: "an unknown id", path: { id: big }, expect: 404 },
	{ op: "getJob", valid: false, name: "an id that is no number", path: { id: "abc" }, expect: 400 },
	{ op: "cancelJob", valid: true, name: "a job in an hour", path: (c) => ({ id: c.later }), expect: 200 },
	{ op: "cancelJob", valid: false, name: "cancelled already", path: (c) => ({ id: c.later }), expect: 409 },
	{ op: "retryJob", valid: true, name: "the cancelled job", path: (c) => ({ id: c.later }), body: { attempts: 2 }, expect: 200 },
	{ op: "retryJob", valid: false, name: "attempts 0", path: (c) => ({ id: c.later }), body: { attempts: 0 }, badBody: true, expect: 400 },
	{ op: "cancelJobs", valid: true, name: "one id", body: (c) => ({ ids: [c.later, big] }), expect: 200 },
	{ op: "cancelJobs", valid: false, name: "no ids", body: { ids: [] }, badBody: true, expect: 400 },
	{ op: "retryJobs", valid: true, name: "the cancelled one", body: (c) => ({ ids: [c.later], attempts: 1 }), expect: 200 },
	{ op: "retryJobs", valid: false, name: "attempts 0", body: (c) => ({ ids: [c.later], attempts: 0 }), badBody: true, expect: 400 },
	{ op: "createJob", valid: true, name: "another in an hour", body: { type: "noop", runAt: future() }, expect: 201 },
	{ op: "cronStatus", valid: true, name: "only a future job pending", expect: 200, wait: "nothing due",
		then: (j) => (j.jobs.pending >= 1 && j.oldestDuePendingAgeSeconds === null ? null : `oldestDuePendingAgeSeconds ${j.oldestDuePendingAgeSeconds} with no job due (pending ${j.jobs.pending})`) },
	{ op: "cronQueue", valid: true, name: "only a future job pending", expect: 200,
		then: (j) => (j.pending.scheduled >= 1 && j.pending.oldestDueAgeSeconds === null ? null : `pending ${JSON.stringify(j.pending)} with no job due`) },
	{ op: "getJob", valid: true, name: "a finished job with its execution", path: (c) => ({ id: c.done }), expect: 200,
		then: (j) => (j.status === "succeeded" && j.executions.length === 1 && j.executions[0].outcome === "succeeded" ? null : `not the finished job: ${JSON.stringify(j).slice(0, 300)}`) },
	{ op: "getJob", valid: true, name: "a failed job", path: (c) => ({ id: c.failing }), expect: 200 },

	// ---- analytics
	{ op: "cronMetrics", valid: true, name: "the last 24 h", expect: 200 },
	{ op: "cronMetrics", valid: true, name: "per minute, one type", query: { bucket: "minute", type: "noop", outcome: "succeeded" }, expect: 200 },
	{ op: "cronMetrics", valid: false, name: "bucket day", query: { bucket: "day" }, expect: 400 },
	{ op: "cronThroughput", valid: true, name: "per minute", query: { bucket: "minute" }, expect: 200 },
	{ op: "cronThroughput", valid: false, name: "bucket x", query: { bucket: "x" }, expect: 400 },
	{ op: "cronInsights", valid: true, name: "the last 24 h", expect: 200 },
	{ op: "cronInsights", valid: false, name: "a start that is no date", query: { startDate: "nope" }, expect: 400 },

	// ---- schedules
	{ op: "createSchedule", valid: true, name: "every minute", body: { name: "contract-s", cron: "* * * * *", type: "noop", payload: { sleep_ms: 1 }, timezone: "Europe/Paris", jitterSeconds: 1 }, expect: 201 },
	{ op: "createSchedule", valid: true, name: "the fewest fields", body: { name: "contract-t", cron: "@daily", type: "noop" }, expect: 201 },
	{ op: "createSchedule", valid: false, name: "the same name", body: { name: "contract-s", cron: "* * * * *", type: "noop" }, expect: 409 },
	{ op: "createSchedule", valid: false, name: "no cron", body: { name: "contract-u", type: "noop" }, badBody: true, expect: 400 },
	{ op: "listSchedules", valid: true, name: "a page of one", query: { limit: "1" }, expect: 200 },
	{ op: "listSchedules", valid: false, name: "limit 0", query: { limit: "0" }, expect: 400 },
	{ op: "updateSchedule", valid: true, name: "pause", path: { name: "contract-s" }, body: { enabled: false, payload: { sleep_ms: 2 } }, expect: 200 },
	{ op: "updateSchedule", valid: false, name: "a new name", path: { name: "contract-s" }, body: { name: "x" }, badBody: true, expect: 400 },
	{ op: "deleteSchedule", valid: true, name: "remove", path: { name: "contract-t" }, expect: 200 },
	{ op: "deleteSchedule", valid: false, name: "removed already", path: { name: "contract-t" }, expect: 404 },

	// ---- dashboard
	{ op: "dashboard", valid: true, name: "the page", auth: "none", expect: 200 },
	{ op: "dashboard", valid: false, name: "POST", auth: "none", method: "post", expect: 405 },
	{ op: "dashboardFile", valid: true, name: "app.js", auth: "none", path: { file: "app.js" }, expect: 200 },
	{ op: "dashboardFile", valid: true, name: "app.css", auth: "none", path: { file: "app.css" }, expect: 200 },
	{ op: "dashboardFile", valid: false, name: "an unknown file", auth: "none", path: { file: "nope.js" }, expect: 404 },
	{ op: "listAlerts", valid: true, name: "a page", query: { limit: "10" }, expect: 200 },
	{ op: "listAlerts", valid: false, name: "an unknown status", query: { status: "lost" }, expect: 400 },
	{ op: "pauseProcessor", valid: true, name: "this processor", path: (c) => ({ id: c.proc }), expect: 202 },
	{ op: "pauseProcessor", valid: false, name: "an unknown processor", path: { id: big }, expect: 404 },
	{ op: "resumeProcessor", valid: true, name: "this processor", path: (c) => ({ id: c.proc }), expect: 202 },
	{ op: "resumeProcessor", valid: false, name: "a wrong token", auth: "wrong", path: (c) => ({ id: c.proc }), expect: 401 },

	// ---- flow
	{ op: "listQueues", valid: true, name: "every queue", expect: 200,
		then: (j) => { const q = j.queues.find((q) => q.name === "default"); return q && q.due === 0 && q.oldestDueAgeSeconds !== null ? `oldestDueAgeSeconds ${q.oldestDueAgeSeconds} with no job due` : null; } },
	{ op: "listQueues", valid: false, name: "a wrong token", auth: "wrong", expect: 401 },
	{ op: "pauseQueue", valid: true, name: "default", path: { name: "default" }, expect: 200 },
	{ op: "pauseQueue", valid: false, name: "a name out of the pattern", path: { name: "BAD!" }, expect: 400 },
	{ op: "resumeQueue", valid: true, name: "default", path: { name: "default" }, expect: 200 },
	{ op: "resumeQueue", valid: false, name: "an unknown queue", path: { name: "nope" }, expect: 404 },
	{ op: "putUserLimits", valid: true, name: "a new row", path: { id: "alice" }, body: { maxRunning: 2, weight: 3 }, expect: 201 },
	{ op: "putUserLimits", valid: true, name: "no limit, replaced", path: { id: "alice" }, body: { maxRunning: null }, expect: 200 },
	{ op: "putUserLimits", valid: false, name: "no maxRunning", path: { id: "alice" }, body: { weight: 2 }, badBody: true, expect: 400 },
	{ op: "getUserLimits", valid: true, name: "alice", path: { id: "alice" }, expect: 200 },
	{ op: "getUserLimits", valid: true, name: "a user without a row", path: { id: "bob" }, expect: 200 },
	{ op: "getUserLimits", valid: false, name: "an id of 257 bytes", path: { id: "u".repeat(257) }, expect: 400 },
	{ op: "listUsers", valid: true, name: "a page", query: { limit: "10", atLimit: "false" }, expect: 200 },
	{ op: "listUsers", valid: false, name: "atLimit maybe", query: { atLimit: "maybe" }, expect: 400 },
	{ op: "deleteUserLimits", valid: true, name: "alice's row", path: { id: "alice" }, expect: 200 },
	{ op: "deleteUserLimits", valid: false, name: "no row", path: { id: "alice" }, expect: 404 },

	// ---- workflows
	{ op: "createWorkflow", valid: true, name: "two steps", body: { name: "contract-w", jobs: [{ key: "a", type: "noop", payload: { sleep_ms: 1 } }, { key: "b", type: "noop", dependsOn: ["a"], runWhen: "always", runAt: future() }] },
		expect: 201, save: (j, c) => { c.wf = j.id; } },
	{ op: "createWorkflow", valid: false, name: "a cycle", body: { name: "w", jobs: [{ key: "a", type: "noop", dependsOn: ["b"] }, { key: "b", type: "noop", dependsOn: ["a"] }] }, expect: 400 },
	{ op: "createWorkflow", valid: false, name: "no jobs", body: { name: "w", jobs: [] }, badBody: true, expect: 400 },
	{ op: "listWorkflows", valid: true, name: "a page", query: { limit: "10" }, expect: 200 },
	{ op: "listWorkflows", valid: false, name: "an unknown status", query: { status: "lost" }, expect: 400 },
	{ op: "getWorkflow", valid: true, name: "the workflow", path: (c) => ({ id: c.wf }), expect: 200 },
	{ op: "getWorkflow", valid: false, name: "an unknown workflow", path: { id: big }, expect: 404 },
	{ op: "cancelWorkflow", valid: true, name: "the workflow", path: (c) => ({ id: c.wf }), expect: 200 },
	{ op: "cancelWorkflow", valid: false, name: "an unknown workflow", path: { id: big }, expect: 404 },

	// ---- meta
	{ op: "metrics", valid: true, name: "the exposition", auth: "none", expect: 200 },
	{ op: "metrics", valid: false, name: "DELETE", auth: "none", method: "delete", expect: 405 },
	{ op: "openapi", valid: true, name: "the document", expect: 200 },
	{ op: "openapi", valid: false, name: "a wrong token", auth: "wrong", expect: 401 },
	// ---- access
	{ op: "whoami", valid: true, name: "the admin", expect: 200,
		then: (j) => (j.name === "api.token" && j.role === "admin" ? null : `got ${JSON.stringify(j)}`) },
	{ op: "whoami", valid: true, name: "a viewer", auth: "viewer", expect: 200,
		then: (j) => (j.name === "contract-viewer" && j.role === "viewer" ? null : `got ${JSON.stringify(j)}`) },
	{ op: "whoami", valid: false, name: "a wrong token", auth: "wrong", expect: 401 },
	{ op: "listAudit", valid: true, name: "a page", query: { limit: "2" }, expect: 200 },
	{ op: "listAudit", valid: true, name: "by token name", query: { token: "contract-viewer" }, expect: 200 },
	{ op: "listAudit", valid: false, name: "a viewer's token", auth: "viewer", expect: 403 },
	{ op: "listAudit", valid: false, name: "a limit of 0", query: { limit: "0" }, expect: 400 },
];

// ------------------------------------------------------------ the run
const status = await until("/api/cron/status", (j) => j.processor && j.processor.id, "the processor's status");
ctx.proc = status.processor.id;
for (const c of CASES) {
	if (c.wait === "nothing due") {
		// every job enqueued so far finished, the future one aside
		await until("/api/cron/queue", (j) => j.pending.due === 0 && j.byStatus.running === 0, "every due job finished");
		await until(`/api/jobs/${ctx.done}`, (j) => j.status === "succeeded", "the first job succeeded");
		await until(`/api/jobs/${ctx.failing}`, (j) => j.status === "failed", "the failing job failed");
	}
	try {
		await send(c);
	} catch (e) {
		fail(`${c.op} ${c.name}: ${e.message}`);
	}
}

// Coverage: every operation of the document, both ways.
for (const id of ops.keys()) {
	const e = exercised.get(id);
	if (!e || !e.valid || !e.invalid)
		fail(`coverage: ${id} was not sent ${!e || !e.valid ? "a valid" : "an invalid"} request (add a case to CASES)`);
}
console.log(`contract: ${ops.size} operations, ${CASES.length} requests; ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
