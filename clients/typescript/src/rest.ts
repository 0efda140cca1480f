// rest.ts -- a typed client of the REST API of `jobvisor serve`, one method
// per operationId of docs/openapi.yaml, its types generated from that
// document into src/openapi.ts (npm run generate). Uses the fetch of node 20.
import type { components, operations } from "./openapi.js";

type Ops = operations;
type OpName = keyof Ops;

/** The body of a response or request object of the generated types (its JSON, else its text). */
type ContentOf<T> = T extends { content: infer C } ? C[keyof C] : never;
/** What a successful call answers (its 200, 201 or 202 body). */
export type ApiResult<K extends OpName> = Ops[K] extends { responses: infer R }
	? { [S in keyof R]: S extends 200 | 201 | 202 ? ContentOf<R[S]> : never }[keyof R]
	: never;
/** The request body an operation takes. */
export type ApiBody<K extends OpName> = Ops[K] extends { requestBody?: infer B } ? ContentOf<NonNullable<B>> : never;
/** The query arguments an operation takes. */
export type ApiQuery<K extends OpName> = NonNullable<Ops[K]["parameters"]["query"]>;

export type Job = components["schemas"]["Job"];
export type NewJob = components["schemas"]["NewJob"];
export type Enqueued = components["schemas"]["Enqueued"];
export type JobStatus = components["schemas"]["JobStatus"];
export type Health = components["schemas"]["Health"];
export type JobDetail = ApiResult<"getJob">;

/** Every operation of docs/openapi.yaml must be a method: tsc fails when the document adds one. */
type EveryOperation = { [K in OpName]: (...args: never[]) => Promise<unknown> };

/** An answer of the API outside 2xx: status, and the server's {"error": ...} message. */
export class JobvisorApiError extends Error {
	/** the HTTP status */
	readonly status: number;
	/** the server's "error" (or the start of a body that was not {"error": ...}) */
	readonly error: string;
	readonly method: string;
	readonly path: string;
	/** the body as received */
	readonly body: string;
	constructor(method: string, path: string, status: number, error: string, body: string) {
		super(`${method} ${path}: ${status}: ${error}`);
		this.name = "JobvisorApiError";
		this.status = status;
		this.error = error;
		this.method = method;
		this.path = path;
		this.body = body;
	}
}

export interface ClientOptions {
	/** the API's address, e.g. http://127.0.0.1:8080 (api.listen of the config) */
	baseUrl: string;
	/** api.token of the config, sent as Authorization: Bearer */
	token?: string;
	/** each request is aborted after this many ms (default 30 000) */
	timeoutMs?: number;
	/** another fetch (default: the global one of node 20) */
	fetch?: typeof globalThis.fetch;
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface Req {
	query?: Query | undefined;
	body?: unknown;
	auth?: boolean;
	headers?: Record<string, string>;
	/** statuses outside 2xx whose body is still the answer (503 of health) */
	accept?: number[];
}

const FINISHED = new Set<JobStatus>(["succeeded", "failed", "cancelled"]);

export class JobvisorClient implements EveryOperation {
	readonly baseUrl: string;
	readonly #token: string | undefined;
	readonly #timeoutMs: number;
	readonly #fetch: typeof globalThis.fetch;

	constructor(opts: ClientOptions) {
		if (!/^https?:\/\//.test(opts.baseUrl)) throw new TypeError(`baseUrl: must be an http:// or https:// URL, got ${opts.baseUrl}`);
		this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
		this.#token = opts.token;
		this.#timeoutMs = opts.timeoutMs ?? 30000;
		this.#fetch = opts.fetch ?? globalThis.fetch;
	}

	async #call<T>(method: string, path: string, req: Req = {}): Promise<T> {
		let url = this.baseUrl + path;
		if (req.query) {
			const q = new URLSearchParams();
			for (const [k, v] of Object.entries(req.query)) if (v !== undefined && v !== null) q.append(k, String(v));
			const s = q.toString();
			if (s) url += "?" + s;
		}
		const headers: Record<string, string> = { Accept: "application/json", ...req.headers };
		if (req.auth !== false && this.#token !== undefined) headers["Authorization"] = `Bearer ${this.#token}`;
		let body: string | undefined;
		if (req.body !== undefined) {
			headers["Content-Type"] = "application/json";
			body = JSON.stringify(req.body);
		}
		const res = await this.#fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
		const text = await res.text();
		const json = (res.headers.get("content-type") ?? "").includes("application/json");
		if (res.ok || req.accept?.includes(res.status)) return (json ? JSON.parse(text) : text) as T;
		let msg = text.slice(0, 500);
		if (json) {
			try {
				const e = JSON.parse(text) as { error?: unknown };
				if (typeof e.error === "string") msg = e.error;
			} catch {
				/* the start of the body, as it came */
			}
		}
		throw new JobvisorApiError(method, path, res.status, msg, text);
	}

	// ------------------------------------------------------------ cron
	/** POST /api/cron/start: resume claiming (optionally retune batch size and concurrency). */
	cronStart(body?: ApiBody<"cronStart">): Promise<ApiResult<"cronStart">> {
		return this.#call("POST", "/api/cron/start", { body });
	}
	/** POST /api/cron/stop: pause claiming; running jobs go on. */
	cronStop(): Promise<ApiResult<"cronStop">> {
		return this.#call("POST", "/api/cron/stop");
	}
	/** GET /api/cron/health: the health (status "unhealthy" with its problems on a 503, not an exception). */
	cronHealth(): Promise<Health> {
		return this.#call("GET", "/api/cron/health", { accept: [503] }).then((h) => {
			if (typeof h === "object" && h !== null && "status" in h) return h as Health;
			throw new JobvisorApiError("GET", "/api/cron/health", 503, String((h as { error?: unknown }).error), JSON.stringify(h));
		});
	}
	/** GET /api/cron/status */
	cronStatus(): Promise<ApiResult<"cronStatus">> {
		return this.#call("GET", "/api/cron/status");
	}
	/** GET /api/cron/queue */
	cronQueue(): Promise<ApiResult<"cronQueue">> {
		return this.#call("GET", "/api/cron/queue");
	}
	/** POST /api/cron/trigger: claim now. */
	cronTrigger(): Promise<ApiResult<"cronTrigger">> {
		return this.#call("POST", "/api/cron/trigger");
	}
	/** POST /api/cron/reset-stuck-jobs */
	cronResetStuckJobs(body?: ApiBody<"cronResetStuckJobs">): Promise<ApiResult<"cronResetStuckJobs">> {
		return this.#call("POST", "/api/cron/reset-stuck-jobs", { body });
	}
	/** POST /api/cron/webhook, authenticated by api.webhook_secret instead of the token. */
	cronWebhook(secret: string): Promise<ApiResult<"cronWebhook">> {
		return this.#call("POST", "/api/cron/webhook", { auth: false, headers: { "X-Webhook-Secret": secret } });
	}
	/** GET /api/cron/metrics: executions over a window. */
	cronMetrics(query?: ApiQuery<"cronMetrics">): Promise<ApiResult<"cronMetrics">> {
		return this.#call("GET", "/api/cron/metrics", { query });
	}
	/** GET /api/cron/throughput */
	cronThroughput(query?: ApiQuery<"cronThroughput">): Promise<ApiResult<"cronThroughput">> {
		return this.#call("GET", "/api/cron/throughput", { query });
	}
	/** GET /api/cron/insights */
	cronInsights(query?: ApiQuery<"cronInsights">): Promise<ApiResult<"cronInsights">> {
		return this.#call("GET", "/api/cron/insights", { query });
	}

	// ------------------------------------------------------------ jobs
	/** POST /api/jobs: one job (its id; 200 with created false for an existing uniqueKey), or an array of up to 10 000 ({ids}). */
	createJob(body: NewJob): Promise<Enqueued>;
	createJob(body: NewJob[]): Promise<{ ids: number[] }>;
	createJob(body: ApiBody<"createJob">): Promise<ApiResult<"createJob">>;
	createJob(body: ApiBody<"createJob">): Promise<ApiResult<"createJob">> {
		return this.#call("POST", "/api/jobs", { body });
	}
	/** GET /api/jobs: a page of jobs, newest first. */
	listJobs(query?: ApiQuery<"listJobs">): Promise<ApiResult<"listJobs">> {
		return this.#call("GET", "/api/jobs", { query });
	}
	/** POST /api/jobs/cancel */
	cancelJobs(body: ApiBody<"cancelJobs">): Promise<ApiResult<"cancelJobs">> {
		return this.#call("POST", "/api/jobs/cancel", { body });
	}
	/** POST /api/jobs/retry */
	retryJobs(body: ApiBody<"retryJobs">): Promise<ApiResult<"retryJobs">> {
		return this.#call("POST", "/api/jobs/retry", { body });
	}
	/** GET /api/jobs/{id}: the job with its executions. */
	getJob(id: number): Promise<JobDetail> {
		return this.#call("GET", `/api/jobs/${id}`);
	}
	/** POST /api/jobs/{id}/cancel */
	cancelJob(id: number): Promise<ApiResult<"cancelJob">> {
		return this.#call("POST", `/api/jobs/${id}/cancel`);
	}
	/** POST /api/jobs/{id}/retry */
	retryJob(id: number, body?: ApiBody<"retryJob">): Promise<ApiResult<"retryJob">> {
		return this.#call("POST", `/api/jobs/${id}/retry`, { body });
	}

	/**
	 * Polls GET /api/jobs/{id} (every intervalMs, default 100) until the job
	 * is succeeded, failed or cancelled; throws when it is not after
	 * timeoutMs (default 30 000). A job that does not exist (404) is not
	 * waited for: its JobvisorApiError is thrown at once.
	 */
	async waitForJob(id: number, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<JobDetail> {
		const timeoutMs = opts.timeoutMs ?? 30000;
		const end = Date.now() + timeoutMs;
		for (;;) {
			const job = await this.getJob(id);
			if (FINISHED.has(job.status)) return job;
			if (Date.now() >= end) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
			await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
		}
	}

	// ------------------------------------------------------------ schedules
	/** GET /api/schedules */
	listSchedules(query?: ApiQuery<"listSchedules">): Promise<ApiResult<"listSchedules">> {
		return this.#call("GET", "/api/schedules", { query });
	}
	/** POST /api/schedules */
	createSchedule(body: ApiBody<"createSchedule">): Promise<ApiResult<"createSchedule">> {
		return this.#call("POST", "/api/schedules", { body });
	}
	/** PATCH /api/schedules/{name} */
	updateSchedule(name: string, body: ApiBody<"updateSchedule">): Promise<ApiResult<"updateSchedule">> {
		return this.#call("PATCH", `/api/schedules/${encodeURIComponent(name)}`, { body });
	}
	/** DELETE /api/schedules/{name} */
	deleteSchedule(name: string): Promise<ApiResult<"deleteSchedule">> {
		return this.#call("DELETE", `/api/schedules/${encodeURIComponent(name)}`);
	}

	// ------------------------------------------------------------ dashboard
	/** GET /: the dashboard's page (HTML). */
	dashboard(): Promise<string> {
		return this.#call("GET", "/", { auth: false });
	}
	/** GET /ui/{file} */
	dashboardFile(file: Ops["dashboardFile"]["parameters"]["path"]["file"]): Promise<string> {
		return this.#call("GET", `/ui/${file}`, { auth: false });
	}
	/** GET /api/alerts */
	listAlerts(query?: ApiQuery<"listAlerts">): Promise<ApiResult<"listAlerts">> {
		return this.#call("GET", "/api/alerts", { query });
	}
	/** GET /api/whoami: the token's name and role */
	whoami(): Promise<ApiResult<"whoami">> {
		return this.#call("GET", "/api/whoami");
	}
	/** GET /api/audit (admin): the audit trail, newest first */
	listAudit(query?: ApiQuery<"listAudit">): Promise<ApiResult<"listAudit">> {
		return this.#call("GET", "/api/audit", { query });
	}
	/** POST /api/processors/{id}/pause */
	pauseProcessor(id: number): Promise<ApiResult<"pauseProcessor">> {
		return this.#call("POST", `/api/processors/${id}/pause`);
	}
	/** POST /api/processors/{id}/resume */
	resumeProcessor(id: number): Promise<ApiResult<"resumeProcessor">> {
		return this.#call("POST", `/api/processors/${id}/resume`);
	}

	// ------------------------------------------------------------ flow
	/** GET /api/queues */
	listQueues(): Promise<ApiResult<"listQueues">> {
		return this.#call("GET", "/api/queues");
	}
	/** POST /api/queues/{name}/pause */
	pauseQueue(name: string): Promise<ApiResult<"pauseQueue">> {
		return this.#call("POST", `/api/queues/${encodeURIComponent(name)}/pause`);
	}
	/** POST /api/queues/{name}/resume */
	resumeQueue(name: string): Promise<ApiResult<"resumeQueue">> {
		return this.#call("POST", `/api/queues/${encodeURIComponent(name)}/resume`);
	}
	/** GET /api/users */
	listUsers(query?: ApiQuery<"listUsers">): Promise<ApiResult<"listUsers">> {
		return this.#call("GET", "/api/users", { query });
	}
	/** GET /api/users/{id}/limits */
	getUserLimits(id: string): Promise<ApiResult<"getUserLimits">> {
		return this.#call("GET", `/api/users/${encodeURIComponent(id)}/limits`);
	}
	/** PUT /api/users/{id}/limits */
	putUserLimits(id: string, body: ApiBody<"putUserLimits">): Promise<ApiResult<"putUserLimits">> {
		return this.#call("PUT", `/api/users/${encodeURIComponent(id)}/limits`, { body });
	}
	/** DELETE /api/users/{id}/limits */
	deleteUserLimits(id: string): Promise<ApiResult<"deleteUserLimits">> {
		return this.#call("DELETE", `/api/users/${encodeURIComponent(id)}/limits`);
	}

	// ------------------------------------------------------------ workflows
	/** POST /api/workflows: every step in one transaction. */
	createWorkflow(body: ApiBody<"createWorkflow">): Promise<ApiResult<"createWorkflow">> {
		return this.#call("POST", "/api/workflows", { body });
	}
	/** GET /api/workflows */
	listWorkflows(query?: ApiQuery<"listWorkflows">): Promise<ApiResult<"listWorkflows">> {
		return this.#call("GET", "/api/workflows", { query });
	}
	/** GET /api/workflows/{id} */
	getWorkflow(id: number): Promise<ApiResult<"getWorkflow">> {
		return this.#call("GET", `/api/workflows/${id}`);
	}
	/** POST /api/workflows/{id}/cancel */
	cancelWorkflow(id: number): Promise<ApiResult<"cancelWorkflow">> {
		return this.#call("POST", `/api/workflows/${id}/cancel`);
	}

	// ------------------------------------------------------------ meta
	/** GET /metrics: the Prometheus text (sent with the token, which a public /metrics ignores). */
	metrics(): Promise<string> {
		return this.#call("GET", "/metrics", { headers: { Accept: "text/plain" } });
	}
	/** GET /api/openapi.json: the API's own document. */
	openapi(): Promise<ApiResult<"openapi">> {
		return this.#call("GET", "/api/openapi.json");
	}
}
