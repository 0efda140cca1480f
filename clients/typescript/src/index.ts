// @jobvisor/client -- enqueue jobvisor jobs in your own PostgreSQL
// transaction (enqueue, enqueueMany), and a typed client of the REST API
// of `jobvisor serve` (JobvisorClient).
export { enqueue, enqueueMany, LIMITS, JobvisorInputError } from "./enqueue.js";
export type { Job as JobOptions, JsonObject, JsonValue, UniqueState, Db } from "./enqueue.js";
export { JobvisorClient, JobvisorApiError } from "./rest.js";
export type {
	ClientOptions,
	ApiResult,
	ApiBody,
	ApiQuery,
	Job,
	JobDetail,
	NewJob,
	Enqueued,
	JobStatus,
	Health,
} from "./rest.js";
export type { paths, components, operations } from "./openapi.js";
