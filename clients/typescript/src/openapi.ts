// src/openapi.ts -- GENERATED from docs/openapi.yaml by `npm run generate`
// (openapi-typescript). Do not edit: change docs/openapi.yaml and regenerate;
// `npm run build` fails while this file is stale.

export interface paths {
    "/api/cron/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume claiming; optionally retune batch size and concurrency
         * @description Takes effect at once: claiming resumes with the next poll or notification.
         */
        post: operations["cronStart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause claiming; running jobs go on
         * @description This processor stops claiming; the jobs it runs go on to their end. POST /api/cron/start resumes.
         */
        post: operations["cronStop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * 200 when healthy (database, heartbeat, workers), 503 with the problems when not
         * @description Public unless api.health_requires_token.
         */
        get: operations["cronHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This processor, every live processor, job counts, alert counters
         * @description Everything the dashboard shows of the processors: this one in detail, every live one in short, the job counts by status and the alert counters.
         */
        get: operations["cronStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/queue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The queue by status and type, the oldest due job, what runs by processor and by user
         * @description The live jobs only (pending and running), read through their partial indexes.
         */
        get: operations["cronQueue"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/trigger": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Claim now instead of at the next poll
         * @description Wakes this processor's claim loop; a paused processor claims nothing.
         */
        post: operations["cronTrigger"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/reset-stuck-jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Rescue the running jobs of processors silent for timeoutMinutes
         * @description The running jobs of processors whose heartbeat is older than the horizon are rescued, as the processors' own rescue does.
         */
        post: operations["cronResetStuckJobs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/webhook": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * An outside cron's tick, authenticated by X-Webhook-Secret; claims now
         * @description See contrib/cron/ for crontab and systemd timer examples.
         */
        post: operations["cronWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Executions over a window (default the last 24 h, at most 90 days), by outcome, type and user
         * @description Exact when "sampled" is false (the window holds at most 500 000
         *     rows), but for topErrors counts with "estimate": true; else computed
         *     over a sample of the window's rows, counts scaled up, each with its
         *     95 % margin (margin95). Counts are of attempts; releases are left
         *     out; successRate counts every outcome in its denominator; byUser
         *     leaves out jobs without a user. Definitions: docs/analytics.md.
         */
        get: operations["cronMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/throughput": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Finished executions per minute or per hour over a window (default the last 24 h)
         * @description Only the counts, so cheaper than /api/cron/metrics; what the
         *     dashboard's charts use. Sampled like /api/cron/metrics when the
         *     window holds more rows than a request may read.
         */
        get: operations["cronThroughput"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/insights": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Findings worth a look over a window (failing or slow types, timeouts, backlog, stuck jobs, queues at their global concurrency)
         * @description kind queue_at_global_concurrency: a queue with a global_concurrency
         *     ran as many jobs at once as it allows for at least 10 % (info; 50 %:
         *     warning) and 60 s of the window, from the attempts started in the
         *     window and the jobs running now; left out when the window is sampled.
         *     kind stuck_jobs: attempts rescued from silent processors (releases
         *     at shutdown or after a lost claim are not). slowest_types and
         *     timeouts compare with the type's timeout (its executor's
         *     timeout_seconds, else processor.timeout_seconds). See
         *     docs/analytics.md.
         */
        get: operations["cronInsights"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List and search jobs, newest first, a page at a time
         * @description Every filter is answered through an index (docs/api.md, "Searching jobs"): the work stays near limit + 1 rows whatever the number of jobs, except with q, which examines at most 10 000 jobs per request.
         */
        get: operations["listJobs"];
        put?: never;
        /**
         * Enqueue a job, or up to 10 000 at once (an array)
         * @description One job (an object), or an array of 1 to 10 000 of them, inserted all or nothing in one statement through jobvisor.enqueue, ids answered in the order of the array. An error in an element names it and its field, in the words of `jobvisor enqueue --file`: `{"error": "[17].type: required ..."}`, `[3]: unknown dependency 123` (elements counted from 0; an element may say userId for user), and nothing is inserted. The body may be up to 16 MiB (413 past it, by its Content-Length).
         */
        post: operations["createJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel up to 1 000 jobs (each pending, waiting or running one, as POST /api/jobs/{id}/cancel)
         * @description Each id as POST /api/jobs/{id}/cancel; ids that are not there or not cancellable are answered as unchanged.
         */
        post: operations["cancelJobs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run up to 1 000 failed or cancelled jobs again (as POST /api/jobs/{id}/retry)
         * @description Each id as POST /api/jobs/{id}/retry; ids that are not there, not failed or cancelled, or whose retry a failed dependency refuses are answered as unchanged.
         */
        post: operations["retryJobs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        /**
         * One job with its executions
         * @description The job with its payload, result, dependencies and every execution (attempt) it had.
         */
        get: operations["getJob"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a pending or waiting job, or stop a running one
         * @description A running job is stopped by its processor (its execution ends cancelled); the jobs that depend on it with runWhen success are cancelled too.
         */
        post: operations["cancelJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run a failed or cancelled job again, with more attempts
         * @description The job is counted from its own dependencies: it waits while any of them is live and is pending when none is. While a dependency it needs to succeed (runWhen success) is failed or cancelled, the retry is refused (409, naming that dependency): retry that one first. The jobs it cancelled (their blockedBy is this job) wait for it again, transitively.
         */
        post: operations["retryJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List schedules, each with its next five run times
         * @description Schedules from the config (source config, synced at each processor
         *     start and reload) and from this API (source api), by name, a page at
         *     a time: pass the answer's `next` as `after` for the next page.
         */
        get: operations["listSchedules"];
        put?: never;
        /**
         * Add a schedule
         * @description Its first run is the first cron time after now. A bad cron
         *     expression is refused naming the field and position; an unknown
         *     time zone is refused too.
         */
        post: operations["createSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/schedules/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Remove a schedule
         * @description Its jobs already enqueued stay. A config schedule removed here comes
         *     back at the next processor start or reload.
         */
        delete: operations["deleteSchedule"];
        options?: never;
        head?: never;
        /**
         * Change, pause or resume a schedule
         * @description Any field but the name; {"enabled": false} pauses, {"enabled": true}
         *     resumes. A new cron or zone, or a resume, counts runs from now (the
         *     runs a paused schedule would have had are not caught up). A config
         *     schedule changed here gets the config's version back at the next
         *     processor start or reload.
         */
        patch: operations["updateSchedule"];
        trace?: never;
    };
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The web dashboard (HTML; it asks for the token and reads this API with it)
         * @description Public: the page holds no data. Served with a Content-Security-Policy
         *     that lets it talk to this origin only, and an ETag (304 on
         *     If-None-Match).
         */
        get: operations["dashboard"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ui/{file}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                file: "app.js" | "app.css";
            };
            cookie?: never;
        };
        /**
         * The dashboard's script and style, embedded in the binary
         * @description Served with an ETag (304 on If-None-Match), public like the page.
         */
        get: operations["dashboardFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The alerts history (jobvisor.alerts), newest first, a page at a time
         * @description Every alert message sent, failed or dropped by a sink, with the events folded into it.
         */
        get: operations["listAlerts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/processors/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause claiming on any processor (its running jobs go on)
         * @description The request reaches the processor through NOTIFY jobvisor_control,
         *     whichever processor's API received it; its state in
         *     /api/cron/status changes with its next heartbeat.
         */
        post: operations["pauseProcessor"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/processors/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume claiming on any processor
         * @description The request reaches the processor through NOTIFY jobvisor_control,
         *     whichever processor's API received it; its state in
         *     /api/cron/status changes with its next heartbeat.
         */
        post: operations["resumeProcessor"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/queues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every queue as the claim sees it now (jobvisor.queue_stats())
         * @description Each queue with its load, its switch and the limits that hold it back, as the next claim sees them.
         */
        get: operations["listQueues"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/queues/{name}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description 1 to 64 bytes of a-z, 0-9, _ . - (else 400) */
                name: components["parameters"]["QueueName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause a queue on every processor (its running jobs finish; none starts)
         * @description jobvisor.pause_queue(name, true, 'api'): a row of jobvisor.queues, so
         *     every processor holds it at its next claim. Pausing a paused queue
         *     keeps its pausedAt and pausedBy.
         */
        post: operations["pauseQueue"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/queues/{name}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description 1 to 64 bytes of a-z, 0-9, _ . - (else 400) */
                name: components["parameters"]["QueueName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a queue on every processor
         * @description jobvisor.pause_queue(name, false, 'api'), which wakes the processors
         *     (NOTIFY jobvisor_jobs): they claim its due jobs at once.
         */
        post: operations["resumeQueue"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Users with a job pending or running or a limits row, by id, a page at a time
         * @description Each user with the limits in effect and the load now.
         */
        get: operations["listUsers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users/{id}/limits": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the user id (jobs.user_id), percent-encoded; 1 to 256 bytes. The path is decoded before routing, so an id with a / cannot be addressed here */
                id: string;
            };
            cookie?: never;
        };
        /**
         * A user's effective limits and load now (the defaults when the user has no row)
         * @description The row of jobvisor.user_limits if any, else the defaults of the config.
         */
        get: operations["getUserLimits"];
        /**
         * Set a user's limits (jobvisor.user_limits), replacing the row
         * @description maxRunning (required) replaces processor.per_user_limit for the user
         *     (0: none of the user's jobs start; null: no limit at all); weight
         *     gives the user that many turns in each round of the fair claim
         *     (absent: 1).
         *     The processors are woken (NOTIFY jobvisor_jobs).
         */
        put: operations["putUserLimits"];
        post?: never;
        /**
         * Remove a user's row (back to per_user_limit and weight 1)
         * @description The processors are woken (NOTIFY jobvisor_jobs).
         */
        delete: operations["deleteUserLimits"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/workflows": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List workflows, newest first, a page at a time
         * @description Each workflow with its status and the counts of its steps by status.
         */
        get: operations["listWorkflows"];
        put?: never;
        /**
         * Enqueue a workflow, all its steps in one transaction
         * @description The body goes to jobvisor.enqueue_workflow(), which checks it all: a cycle, an unknown or duplicate key, a step past the limits is a 400 naming it (`cycle: a -> b -> a`, `jobs[3].dependsOn: unknown key "x"`, `duplicate key "a"`), and nothing is inserted. At most 10 000 steps; keys are 1 to 64 bytes of A-Z a-z 0-9 _ . -; the name 1 to 200 characters. The body may be up to 16 MiB.
         */
        post: operations["createWorkflow"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/workflows/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["WorkflowId"];
            };
            cookie?: never;
        };
        /**
         * One workflow with each step's state
         * @description The workflow, its counts and every step with its key, dependencies and state.
         */
        get: operations["getWorkflow"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/workflows/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["WorkflowId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel the workflow's unfinished steps (waiting, pending, running)
         * @description Each unfinished step as POST /api/jobs/{id}/cancel.
         */
        post: operations["cancelWorkflow"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The token's name and role (never the token), for the dashboard
         * @description Who the request's token is: its name in api.tokens (api.token is
         *     named "api.token") and its role. The dashboard shows the name and
         *     hides what the role may not do.
         */
        get: operations["whoami"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit trail (jobvisor.audit_log), newest first, a page at a time (admin)
         * @description One entry per request other than GET and HEAD made with a known
         *     token: successes, refusals (403, 4xx) and failures alike. A request
         *     without a known token (401) leaves none. Rows are written a moment
         *     after the answer (by a writer of their own), and kept for
         *     history.retention_days.
         */
        get: operations["listAudit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics (text exposition format 0.0.4)
         * @description Public unless api.metrics_requires_token. Answers 200 even when the
         *     database is down (then jobvisor_database_up is 0 and the gauges read
         *     from the database are left out).
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This document, as JSON
         * @description docs/openapi.yaml of the build, as JSON.
         */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Window: {
            /** Format: date-time */
            start: string;
            /** Format: date-time */
            end: string;
        };
        /** @description the executions of the window (of a type in byType, a user in byUser) */
        Figures: {
            /** @description in byType only */
            type?: string;
            /** @description in byUser only */
            user?: string;
            total: number;
            byOutcome: {
                succeeded: number;
                failed: number;
                timed_out: number;
                crashed: number;
                rescued: number;
                cancelled: number;
            };
            /** @description succeeded / total, 4 decimals; null when total is 0 */
            successRate: number | null;
            /** @description of the finished executions; each null when there is none */
            durationMs: {
                p50: number | null;
                p95: number | null;
                p99: number | null;
                max: number | null;
                avg: number | null;
            };
            /** @description when sampled: the 95 % margin of each count and of successRate */
            margin95?: {
                total?: number;
                succeeded?: number;
                failed?: number;
                timed_out?: number;
                crashed?: number;
                rescued?: number;
                cancelled?: number;
                successRate?: number | null;
            };
        };
        Error: {
            error: string;
        };
        /**
         * @description waiting is a job whose dependencies have not all finished
         * @enum {string}
         */
        JobStatus: "pending" | "running" | "succeeded" | "failed" | "cancelled" | "waiting";
        StatusCounts: {
            pending: number;
            waiting: number;
            running: number;
            succeeded: number;
            failed: number;
            cancelled: number;
        };
        JobIdList: number[];
        JobIds: {
            ids: components["schemas"]["JobIdList"];
        };
        Workflow: {
            /** Format: int64 */
            id: number;
            name: string;
            /** Format: date-time */
            createdAt: string;
            createdBy: string | null;
            /** @enum {string} */
            status: "running" | "succeeded" | "failed" | "cancelled";
            counts: components["schemas"]["StatusCounts"];
        };
        NewJob: {
            /** @description an executor instance of the config; at most 128 bytes */
            type: string;
            /** @description any JSON object, handed to the executor; at most 1 MiB (1048576 bytes) as JSON text as PostgreSQL writes it (payload::text), and at most 512 levels of arrays and objects deep, else 400 */
            payload?: {
                [key: string]: unknown;
            } | null;
            /** @description for per_user_limit; at most 256 bytes */
            user?: string | null;
            /** @description the same as user (the name of `jobvisor enqueue --file`); not both */
            userId?: string | null;
            /**
             * Format: date-time
             * @description not before; default: now
             */
            runAt?: string | null;
            priority?: number | null;
            maxAttempts?: number | null;
            timeoutSeconds?: number | null;
            /** @description at most one job per key in uniqueStates (default: pending or running); at most 512 bytes */
            uniqueKey?: string | null;
            /** @description with uniqueKey only: the states in which a job holds its key (an existing job in one of them is answered, 200); must include pending and running; default ["pending", "running"]; ["pending", "running", "succeeded"] is at most once until it fails */
            uniqueStates?: components["schemas"]["JobStatus"][] | null;
            /** @description the queue (default "default"); 1 to 64 bytes of a-z, 0-9, _ . -, else 400; a queue no processor's config names is refused with 400 and the table's message ("jobvisor.jobs: unknown queue ...") */
            queue?: string | null;
            /** @description ids of jobs this one waits for (status waiting until all finished); an unknown id is a 400 (`unknown dependency 123`); not together with uniqueKey */
            dependsOn?: number[] | null;
            /**
             * @description success (default): run when every dependency succeeded, cancelled (naming it) when one fails for good or is cancelled; always: run once all finished either way
             * @enum {string|null}
             */
            runWhen?: "success" | "always" | null;
        };
        /** @description a job of POST /api/workflows, as NewJob but with a key and dependsOn by key */
        NewWorkflowStep: {
            /** @description unique in the workflow */
            key: string;
            /** @description keys of other steps of this workflow */
            dependsOn?: string[] | null;
            type: string;
            /** @description as for NewJob */
            payload?: {
                [key: string]: unknown;
            } | null;
            user?: string | null;
            /** @description the same as user; not both */
            userId?: string | null;
            /** Format: date-time */
            runAt?: string | null;
            priority?: number | null;
            maxAttempts?: number | null;
            timeoutSeconds?: number | null;
            queue?: string | null;
            /** @enum {string|null} */
            runWhen?: "success" | "always" | null;
        };
        Enqueued: {
            /** Format: int64 */
            id: number;
            created: boolean;
            /** @description no executor of this processor serves the type, or this processor does not serve the queue (processor.queues) */
            warning?: string;
        };
        Queue: {
            name: string;
            /** @description jobs pending, due or not */
            pending: number;
            /** @description jobs pending and due */
            due: number;
            /** @description on every processor */
            running: number;
            /** @description paused for every processor */
            paused: boolean;
            /** Format: date-time */
            pausedAt: string | null;
            /** @description api, sql, config, ... */
            pausedBy: string | null;
            /** @description this processor's queues.NAME.concurrency; null: none */
            concurrency: number | null;
            /** @description whether this processor serves the queue (processor.queues; absent: every queue) */
            served: boolean;
            /** @description running at once on all processors at most */
            globalConcurrency: number | null;
            rateLimit: {
                allowed: number;
                periodSeconds: number;
                /** @enum {string} */
                partitionBy: "none" | "user_id" | "type";
            } | null;
            /** @description starts in the current rate window, all partitions */
            windowStarts: number;
            /** @description rate partitions at their limit now */
            ratePartitionsFull: number;
            /**
             * @description what holds the queue's due jobs back now; null when nothing does (or none is due)
             * @enum {string|null}
             */
            heldBy: "paused" | "global_concurrency" | "rate_limit" | null;
            /** @description since the queue's oldest due job was due; null when none is due */
            oldestDueAgeSeconds: number | null;
        };
        UserLimits: {
            userId: string;
            /** @description the effective limit: the row's, else per_user_limit (0 there: none); null: none */
            maxRunning: number | null;
            weight: number;
            running: number;
            pending: number;
            /** @description as many jobs running as maxRunning */
            atLimit: boolean;
            /** @description the user has a row in jobvisor.user_limits */
            overridden: boolean;
        };
        UserLimitsRow: {
            userId: string;
            /** @description replaces processor.per_user_limit for the user; null: no limit */
            maxRunning: number | null;
            weight: number;
            /** Format: date-time */
            updatedAt: string;
        };
        Job: {
            /** Format: int64 */
            id: number;
            type: string;
            user: string | null;
            status: components["schemas"]["JobStatus"];
            priority: number;
            attempts: number;
            maxAttempts: number;
            /** Format: date-time */
            scheduledAt: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            startedAt: string | null;
            /** Format: date-time */
            finishedAt: string | null;
            lastError: string | null;
            /** Format: int64 */
            lockedBy: number | null;
            queue: string;
            /** @description as the executor reported it last (at most once a second) */
            progress: number | null;
            progressNote: string | null;
            /** Format: date-time */
            progressAt: string | null;
            /** Format: int64 */
            workflowId: number | null;
            workflowKey: string | null;
            /** @enum {string} */
            runWhen: "success" | "always";
            /**
             * Format: int64
             * @description the dependency whose failure or cancellation cancelled this job
             */
            blockedBy: number | null;
        };
        /** @description a job (as in Job) with its details, for GET /api/jobs/{id} */
        JobDetail: {
            /** Format: int64 */
            id: number;
            type: string;
            user: string | null;
            status: components["schemas"]["JobStatus"];
            priority: number;
            attempts: number;
            maxAttempts: number;
            /** Format: date-time */
            scheduledAt: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            startedAt: string | null;
            /** Format: date-time */
            finishedAt: string | null;
            lastError: string | null;
            /** Format: int64 */
            lockedBy: number | null;
            queue: string;
            /** @description as the executor reported it last (at most once a second) */
            progress: number | null;
            progressNote: string | null;
            /** Format: date-time */
            progressAt: string | null;
            /** Format: int64 */
            workflowId: number | null;
            workflowKey: string | null;
            /** @enum {string} */
            runWhen: "success" | "always";
            /**
             * Format: int64
             * @description the dependency whose failure or cancellation cancelled this job
             */
            blockedBy: number | null;
            /** @description the job's own timeout; null: the executor's */
            timeoutSeconds: number | null;
            uniqueKey: string | null;
            /** Format: date-time */
            updatedAt: string;
            /** @description the ids of the jobs it depends on (empty when none) */
            dependsOn: number[];
            /** @description numbers as JSON numbers whatever their size (integers beyond int64 as reals); null with payloadOmitted when no JSON value can show it */
            payload: {
                [key: string]: unknown;
            } | null;
            /** @description only when payload is null because it cannot be shown as a JSON value (nested deeper than 2047 levels, or a number beyond a double's range, both only by SQL): why */
            payloadOmitted?: string;
            /** @description with payloadOmitted: the payload as PostgreSQL prints it */
            payloadText?: string;
            /** @description what the executor answered, any JSON value (null: none yet); shown as payload is, with resultOmitted and resultText likewise */
            result: unknown;
            /** @description as payloadOmitted, for the result */
            resultOmitted?: string;
            /** @description with resultOmitted: the result as PostgreSQL prints it */
            resultText?: string;
            executions: components["schemas"]["Execution"][];
        };
        ScheduleChange: {
            /** @description 5 or 6 fields (seconds first), names, @daily, @every 30s */
            cron?: string;
            /** @description an IANA zone; default UTC */
            timezone?: string;
            /** @description the jobs' type; at most 128 bytes */
            type?: string;
            /** @description the jobs' payload, any JSON object; at most 1 MiB as JSON text and 512 levels deep (else 400) */
            payload?: {
                [key: string]: unknown;
            };
            /** @description at most 256 bytes */
            user?: string | null;
            priority?: number;
            maxAttempts?: number;
            timeoutSeconds?: number | null;
            /**
             * @description runs missed while every processor was down (more than 2 s overdue): none skips them, latest (the default) enqueues the latest one, all enqueues each (at most 100, the latest)
             * @enum {string}
             */
            catchUp?: "none" | "latest" | "all";
            /** @description each job is delayed 0..jitterSeconds */
            jitterSeconds?: number;
            /** @description false: paused */
            enabled?: boolean;
            /** @description the jobs' queue, one a processor's config names under queues: (else 400 naming it); default 'default' */
            queue?: string;
        };
        /** @description a schedule of POST /api/schedules; the fields as in ScheduleChange, and its name */
        NewSchedule: {
            /** @description 1 to 100 of A-Z, a-z, 0-9, '_', '.', '-' (as in the config) */
            name: string;
            /** @description 5 or 6 fields (seconds first), names, @daily, @every 30s */
            cron: string;
            /** @description an IANA zone; default UTC */
            timezone?: string;
            /** @description the jobs' type; at most 128 bytes */
            type: string;
            /** @description the jobs' payload, any JSON object; at most 1 MiB as JSON text and 512 levels deep (else 400) */
            payload?: {
                [key: string]: unknown;
            };
            /** @description at most 256 bytes */
            user?: string | null;
            priority?: number;
            maxAttempts?: number;
            timeoutSeconds?: number | null;
            /**
             * @description runs missed while every processor was down (more than 2 s overdue): none skips them, latest (the default) enqueues the latest one, all enqueues each (at most 100, the latest)
             * @enum {string}
             */
            catchUp?: "none" | "latest" | "all";
            /** @description each job is delayed 0..jitterSeconds */
            jitterSeconds?: number;
            /** @description false: paused */
            enabled?: boolean;
            /** @description the jobs' queue, one a processor's config names under queues: (else 400 naming it); default 'default' */
            queue?: string;
        };
        Schedule: {
            name: string;
            cron: string;
            timezone: string;
            type: string;
            /** @description null with payloadOmitted when no JSON value can show it, as for a job */
            payload: {
                [key: string]: unknown;
            } | null;
            /** @description only when payload is null because it cannot be shown as a JSON value: why */
            payloadOmitted?: string;
            /** @description with payloadOmitted: the payload as PostgreSQL prints it */
            payloadText?: string;
            user: string | null;
            priority: number;
            maxAttempts: number;
            timeoutSeconds: number | null;
            /** @enum {string} */
            catchUp: "none" | "latest" | "all";
            jitterSeconds: number;
            enabled: boolean;
            /** @description the queue of its jobs */
            queue: string;
            /** @enum {string} */
            source: "config" | "api";
            /**
             * Format: date-time
             * @description the next run not yet enqueued
             */
            nextRunAt: string | null;
            /** Format: date-time */
            lastRunAt: string | null;
            /** Format: int64 */
            lastJobId: number | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** @description the next five run times after now (UTC) */
            nextRuns: string[];
        };
        Execution: {
            attempt: number;
            /** Format: int64 */
            processor: number | null;
            /** Format: date-time */
            startedAt: string;
            /** Format: date-time */
            finishedAt: string | null;
            durationMs: number | null;
            /**
             * @description the outcome of the attempt (jobvisor.job_executions.outcome), null while it runs; released is an attempt given back uncounted (at shutdown, or a lost claim answer; before migration 020 recorded as rescued)
             * @enum {string|null}
             */
            outcome: "succeeded" | "failed" | "timed_out" | "crashed" | "rescued" | "cancelled" | "released" | null;
            error: string | null;
            output: string | null;
            /** @description a late report of the attempt, after the job was rescued or cancelled meanwhile: recorded, not applied (its outcome added to error) */
            stale: boolean;
        };
        Processor: {
            /** Format: int64 */
            id: number;
            name: string;
            hostname: string;
            pid: number;
            /** @enum {string} */
            state: "running" | "paused" | "stopping";
            paused: boolean;
            databaseConnected: boolean;
            uptimeSeconds: number;
            heartbeatAgeSeconds: number | null;
            batchSize: number;
            maxConcurrentJobs: number;
            runningJobs: number;
            /** @description claimed ahead (processor.prefetch), waiting for a free slot */
            prefetchedJobs: number;
            threads: number;
            workers: {
                total: number;
                busy: number;
                idle: number;
            };
            claimed: number;
            completed: number;
            databaseReconnects: number;
            /** @description processor.heartbeat_interval_ms */
            heartbeatIntervalMs: number;
            /** @description processor.stuck_job_timeout_minutes (decimals allowed), the horizon the dashboard resets stuck jobs with */
            stuckJobTimeoutMinutes: number;
            /** @description the shortest timeoutMinutes reset-stuck-jobs takes: 2 heartbeat intervals + the 7 s self-fencing margin (2 s kill grace + 5 s slack, or a thousandth of the horizon when more), rounded up to a hundredth of a minute */
            minStuckJobTimeoutMinutes: number;
        };
        Health: {
            /** @enum {string} */
            status: "healthy" | "unhealthy";
            database: {
                /** @description the engine's own database connection is up */
                reachable: boolean;
                /** @description the latest round trip of the API's database connections; null before the first */
                latencyMs: number | null;
            };
            heartbeatAgeSeconds: number | null;
            problems: string[];
            /** Format: int64 */
            processor: number;
            paused: boolean;
            workers: {
                total: number;
                busy: number;
                idle: number;
                threads: number;
            };
        };
    };
    responses: {
        /** @description bad input (unknown query argument or body key, invalid value, body not JSON, a value past its documented length or size limit) */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description missing or wrong token (or no api.token configured) */
        Unauthorized: {
            headers: {
                /** @description Bearer realm="jobvisor" */
                "WWW-Authenticate": string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the token's role may not take this route (the error names the role needed) */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description no such route, or no such object */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the path exists but not with this method (the Allow header lists them) */
        MethodNotAllowed: {
            headers: {
                /** @description the methods of the path */
                Allow: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the job is not in a state that allows it */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the ids changed (in id order) and the rest (in the request's order, unknown ids included) */
        ChangedUnchanged: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": {
                    changed: number[];
                    unchanged: number[];
                };
            };
        };
        /** @description the body is larger than api.max_body_bytes (default 2 MiB; said by its Content-Length) */
        TooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the database or the engine is not available, or the database is busy (api.statement_timeout_ms or api.lock_timeout_ms hit, or every API database connection taken: with Retry-After) */
        Unavailable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description the queue's switch as it is now */
        QueueSwitched: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": {
                    name: string;
                    paused: boolean;
                };
            };
        };
        /** @description a claim was requested */
        Triggered: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": {
                    success: boolean;
                    triggered: boolean;
                    /** @description claiming is paused: nothing will be claimed */
                    paused: boolean;
                };
            };
        };
    };
    parameters: {
        /** @description window start (inclusive), an ISO-8601 date or date-time; default: 24 h before endDate */
        StartDate: string;
        /** @description window end (exclusive); default: now */
        EndDate: string;
        JobId: number;
        WorkflowId: number;
        /** @description 1 to 64 bytes of a-z, 0-9, _ . - (else 400) */
        QueueName: string;
    };
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    cronStart: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": {
                    /** @description at most processor.batch_size */
                    batchSize?: number | null;
                    /** @description at most processor.max_concurrent_jobs */
                    maxConcurrentJobs?: number | null;
                };
            };
        };
        responses: {
            /** @description claiming resumed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        success: boolean;
                        /** @enum {string} */
                        state: "running";
                        batchSize: number;
                        maxConcurrentJobs: number;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronStop: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description claiming paused */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        success: boolean;
                        /** @enum {string} */
                        state: "paused";
                        runningJobs: number;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description healthy */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            /** @description unhealthy, or no database connection to be had */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"] | components["schemas"]["Error"];
                };
            };
        };
    };
    cronStatus: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the status */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        processor: components["schemas"]["Processor"];
                        processors: {
                            /** Format: int64 */
                            id: number;
                            name: string;
                            hostname: string;
                            pid: number;
                            state: string;
                            version: string;
                            heartbeatAgeSeconds: number;
                            runningJobs: number;
                        }[];
                        jobs: components["schemas"]["StatusCounts"];
                        /** @description since the oldest due pending job was due; null when no job is due (jobs scheduled later wait for nothing) */
                        oldestDuePendingAgeSeconds: number | null;
                        alerts: {
                            sent: number;
                            failed: number;
                            dropped: number;
                            folded: number;
                        };
                        /** @description the queues paused for every processor, by name */
                        pausedQueues: string[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronQueue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the queue */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        byStatus: components["schemas"]["StatusCounts"];
                        byType: {
                            [key: string]: {
                                pending: number;
                                running: number;
                            };
                        };
                        /** @description every queue of jobvisor.queues, by name */
                        byQueue: {
                            [key: string]: {
                                pending: number;
                                running: number;
                                paused: boolean;
                            };
                        };
                        pending: {
                            due: number;
                            scheduled: number;
                            /** @description since the oldest due job was due; null when none is due */
                            oldestDueAgeSeconds: number | null;
                        };
                        runningByProcessor: {
                            /** Format: int64 */
                            processor: number;
                            name: string;
                            running: number;
                        }[];
                        runningByUser: {
                            user: string;
                            running: number;
                        }[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronTrigger: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: components["responses"]["Triggered"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronResetStuckJobs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": {
                    /** @description default processor.stuck_job_timeout_minutes; refused (400, naming it) below minStuckJobTimeoutMinutes of GET /api/cron/status, the shortest horizon that cannot take the jobs of a live processor */
                    timeoutMinutes?: number | null;
                };
            };
        };
        responses: {
            /** @description how many jobs were reset */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        success: boolean;
                        resetCount: number;
                        /** @description the horizon used: the one asked for, else processor.stuck_job_timeout_minutes (which may have decimals) */
                        timeoutMinutes: number;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: components["responses"]["Triggered"];
            400: components["responses"]["BadRequest"];
            /** @description missing or wrong X-Webhook-Secret. No WWW-Authenticate: the secret is no HTTP authentication scheme a client could be challenged with, and a Bearer challenge would ask for the token, which this route does not take */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no api.webhook_secret is configured */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronMetrics: {
        parameters: {
            query?: {
                /** @description window start (inclusive), an ISO-8601 date or date-time; default: 24 h before endDate */
                startDate?: components["parameters"]["StartDate"];
                /** @description window end (exclusive); default: now */
                endDate?: components["parameters"]["EndDate"];
                outcome?: "succeeded" | "failed" | "timed_out" | "crashed" | "rescued" | "cancelled";
                type?: string;
                user?: string;
                /**
                 * @description The throughput series: per hour (`throughputPerHour`, entries
                 *     with `hour`) or per minute (`throughputPerMinute`, entries with
                 *     `minute`; windows of at most 24 hours).
                 */
                bucket?: "hour" | "minute";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the figures of the window */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        window: components["schemas"]["Window"];
                        /** @description false: every figure exact (but topErrors entries with estimate true); true: computed over a sample of the window's rows, counts scaled up with their margin95 (docs/analytics.md) */
                        sampled: boolean;
                        /** @description when sampled: the share of the window's rows in the sample */
                        samplePercent?: number;
                        overall: components["schemas"]["Figures"];
                        /** @description the types with the most executions first */
                        byType: components["schemas"]["Figures"][];
                        /** @description the users with the most executions first */
                        byUser: components["schemas"]["Figures"][];
                        /** @description with bucket=hour (the default), every hour of the window */
                        throughputPerHour?: {
                            /** Format: date-time */
                            hour: string;
                            succeeded: number;
                            /** @description failed, timed out or crashed */
                            failed: number;
                            total: number;
                            /** @description when sampled: the 95 % margin of each count */
                            margin95?: {
                                succeeded?: number;
                                failed?: number;
                                total?: number;
                            };
                        }[];
                        /** @description with bucket=minute, every minute of the window */
                        throughputPerMinute?: {
                            /** Format: date-time */
                            minute: string;
                            succeeded: number;
                            /** @description failed, timed out or crashed */
                            failed: number;
                            total: number;
                            /** @description when sampled: the 95 % margin of each count */
                            margin95?: {
                                succeeded?: number;
                                failed?: number;
                                total?: number;
                            };
                        }[];
                        /** @description the most frequent errors, numbers and quoted strings folded into a pattern */
                        topErrors: {
                            pattern: string;
                            count: number;
                            /** @description count is an estimate (from a sample of the errors or of the rows); false: exact */
                            estimate: boolean;
                            /** @description when estimate: the 95 % margin of count */
                            margin95?: {
                                count?: number;
                            };
                            /** @description one of them, at most 500 characters */
                            example: string;
                            /** Format: date-time */
                            lastSeen: string;
                            types: string[];
                        }[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronThroughput: {
        parameters: {
            query?: {
                /** @description window start (inclusive), an ISO-8601 date or date-time; default: 24 h before endDate */
                startDate?: components["parameters"]["StartDate"];
                /** @description window end (exclusive); default: now */
                endDate?: components["parameters"]["EndDate"];
                type?: string;
                /** @description minute: windows of at most 24 hours */
                bucket?: "hour" | "minute";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description one point per bucket, empty buckets included */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        window: components["schemas"]["Window"];
                        /** @description false: every figure exact (but topErrors entries with estimate true); true: computed over a sample of the window's rows, counts scaled up with their margin95 (docs/analytics.md) */
                        sampled: boolean;
                        /** @description when sampled: the share of the window's rows in the sample */
                        samplePercent?: number;
                        /** @enum {string} */
                        bucket: "hour" | "minute";
                        points: {
                            /**
                             * Format: date-time
                             * @description the bucket's start (UTC)
                             */
                            at: string;
                            succeeded: number;
                            /** @description failed, timed out or crashed */
                            failed: number;
                            /** @description every outcome */
                            total: number;
                            /** @description when sampled: the 95 % margin of each count */
                            margin95?: {
                                succeeded?: number;
                                failed?: number;
                                total?: number;
                            };
                        }[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cronInsights: {
        parameters: {
            query?: {
                /** @description window start (inclusive), an ISO-8601 date or date-time; default: 24 h before endDate */
                startDate?: components["parameters"]["StartDate"];
                /** @description window end (exclusive); default: now */
                endDate?: components["parameters"]["EndDate"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the insights */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        window: components["schemas"]["Window"];
                        /** @description false: every figure exact (but topErrors entries with estimate true); true: computed over a sample of the window's rows, counts scaled up with their margin95 (docs/analytics.md) */
                        sampled: boolean;
                        /** @description when sampled: the share of the window's rows in the sample */
                        samplePercent?: number;
                        /** @description the most severe first; one of kind healthy when nothing stands out */
                        insights: {
                            /** @description most_failing_types, slow_types, healthy, ... (new kinds may come) */
                            kind: string;
                            /** @enum {string} */
                            severity: "critical" | "warning" | "info";
                            title: string;
                            detail: string | null;
                            recommendation: string | null;
                            /** @description the figures behind it, by kind */
                            data: {
                                [key: string]: unknown;
                            } | null;
                        }[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    listJobs: {
        parameters: {
            query?: {
                status?: components["schemas"]["JobStatus"];
                type?: string;
                user?: string;
                /** @description only with status=pending or status=running, or with id, workflow or q (400 otherwise): no index has the finished jobs by queue */
                queue?: string;
                /** @description that job only (if the other filters match it) */
                id?: number;
                /** @description the steps of that workflow */
                workflow?: number;
                /** @description created at or after (ISO 8601) */
                from?: string;
                /** @description created before (ISO 8601) */
                to?: string;
                /** @description jobs whose lastError contains q (case-insensitive), among the newest 10 000 jobs the other filters (and after) select; when those 10 000 did not fill the page, the answer has `capped: true` and `next` continues below them */
                q?: string;
                limit?: number;
                /** @description the id after which the page starts (keyset paging) */
                after?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page of jobs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        jobs: components["schemas"]["Job"][];
                        /**
                         * Format: int64
                         * @description what to pass as after= for the next page; null on the last
                         */
                        next: number | null;
                        /** @description only with q: the search examined its 10 000 jobs before the page was full; next continues below them */
                        capped?: boolean;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    createJob: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["NewJob"] | components["schemas"]["NewJob"][];
            };
        };
        responses: {
            /** @description a job of the same uniqueKey already exists in one of uniqueStates (default pending and running); its id */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Enqueued"];
                };
            };
            /** @description the job was enqueued; for an array, every job: {"ids": [...]} in order */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Enqueued"] | {
                        ids: number[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    cancelJobs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JobIds"];
            };
        };
        responses: {
            200: components["responses"]["ChangedUnchanged"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    retryJobs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    ids: components["schemas"]["JobIdList"];
                    /** @default 1 */
                    attempts?: number | null;
                };
            };
        };
        responses: {
            200: components["responses"]["ChangedUnchanged"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    getJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDetail"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cancelJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the job is cancelled */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        /** @enum {string} */
                        status: "cancelled";
                        /** @enum {string} */
                        was: "pending" | "running" | "waiting";
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    retryJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": {
                    /** @default 1 */
                    attempts?: number | null;
                };
            };
        };
        responses: {
            /** @description the job is pending again, or waiting for its dependencies */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        /** @enum {string} */
                        status: "pending" | "waiting";
                        maxAttempts: number;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    listSchedules: {
        parameters: {
            query?: {
                limit?: number;
                /** @description the last name of the previous page */
                after?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the schedules */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        schedules: components["schemas"]["Schedule"][];
                        /** @description after= for the next page; null on the last */
                        next: string | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    createSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["NewSchedule"];
            };
        };
        responses: {
            /** @description the schedule as stored */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    deleteSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description removed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        /** @enum {boolean} */
                        deleted: true;
                        /** @enum {string} */
                        source: "config" | "api";
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    updateSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ScheduleChange"];
            };
        };
        responses: {
            /** @description the schedule as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    dashboard: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html; charset=utf-8": string;
                };
            };
            /** @description unchanged */
            304: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            405: components["responses"]["MethodNotAllowed"];
        };
    };
    dashboardFile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                file: "app.js" | "app.css";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the file */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/javascript; charset=utf-8": string;
                    "text/css; charset=utf-8": string;
                };
            };
            /** @description unchanged */
            304: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
        };
    };
    listAlerts: {
        parameters: {
            query?: {
                status?: "sent" | "failed" | "dropped";
                event?: string;
                limit?: number;
                /** @description the previous page's next */
                after?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description one page of alerts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        alerts: {
                            /** Format: int64 */
                            id?: number;
                            /** Format: date-time */
                            createdAt?: string;
                            /** Format: date-time */
                            firstAt?: string;
                            /** Format: date-time */
                            lastAt?: string;
                            /** Format: date-time */
                            sentAt?: string | null;
                            /** @enum {string} */
                            status?: "sent" | "failed" | "dropped";
                            sink?: string;
                            plugin?: string;
                            event?: string;
                            /** @description events folded into this message */
                            count?: number;
                            /** Format: int64 */
                            jobId?: number | null;
                            jobType?: string | null;
                            user?: string | null;
                            title?: string;
                            attempts?: number;
                            error?: string | null;
                            /** Format: int64 */
                            processor?: number | null;
                        }[];
                        /**
                         * Format: int64
                         * @description after= for the next (older) page
                         */
                        next: number | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    pauseProcessor: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description requested */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        /** @enum {string} */
                        requested: "pause" | "resume";
                        /** @description its state when asked */
                        state: string;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    resumeProcessor: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description requested */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        /** @enum {string} */
                        requested: "pause" | "resume";
                        /** @description its state when asked */
                        state: string;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    listQueues: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the queues, by name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        queues: components["schemas"]["Queue"][];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    pauseQueue: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description 1 to 64 bytes of a-z, 0-9, _ . - (else 400) */
                name: components["parameters"]["QueueName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["QueueSwitched"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    resumeQueue: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description 1 to 64 bytes of a-z, 0-9, _ . - (else 400) */
                name: components["parameters"]["QueueName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["QueueSwitched"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    listUsers: {
        parameters: {
            query?: {
                /** @description true: only users with as many jobs running as their limit; false: only the others */
                atLimit?: boolean;
                limit?: number;
                /** @description the user id after which the page starts */
                after?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page of users */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        users: components["schemas"]["UserLimits"][];
                        /** @description after= for the next page; null on the last */
                        next: string | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    getUserLimits: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the user id (jobs.user_id), percent-encoded; 1 to 256 bytes. The path is decoded before routing, so an id with a / cannot be addressed here */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserLimits"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    putUserLimits: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the user id (jobs.user_id), percent-encoded; 1 to 256 bytes. The path is decoded before routing, so an id with a / cannot be addressed here */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    maxRunning: number | null;
                    /** @default 1 */
                    weight?: number;
                };
            };
        };
        responses: {
            /** @description the row, replaced */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserLimitsRow"];
                };
            };
            /** @description the row, new */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserLimitsRow"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    deleteUserLimits: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the user id (jobs.user_id), percent-encoded; 1 to 256 bytes. The path is decoded before routing, so an id with a / cannot be addressed here */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the row as it was */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserLimitsRow"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    listWorkflows: {
        parameters: {
            query?: {
                /** @description running while a step is waiting, pending or running; else failed if one failed, else cancelled if one was cancelled, else succeeded. With status, at most 1 000 workflows are examined per request; next continues below them */
                status?: "running" | "succeeded" | "failed" | "cancelled";
                limit?: number;
                after?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page of workflows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        workflows: components["schemas"]["Workflow"][];
                        /** Format: int64 */
                        next: number | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    createWorkflow: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    jobs: components["schemas"]["NewWorkflowStep"][];
                };
            };
        };
        responses: {
            /** @description the workflow and its steps */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        name: string;
                        /** @description each step's key and job id */
                        jobs: {
                            [key: string]: number;
                        };
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    getWorkflow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["WorkflowId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the workflow */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        name: string;
                        /** Format: date-time */
                        createdAt: string;
                        createdBy: string | null;
                        /** @enum {string} */
                        status: "running" | "succeeded" | "failed" | "cancelled";
                        counts: components["schemas"]["StatusCounts"];
                        steps: {
                            /** @description null for a job added to the workflow by SQL without one */
                            key: string | null;
                            /** Format: int64 */
                            id: number;
                            type: string;
                            status: components["schemas"]["JobStatus"];
                            /** @description the keys of its dependencies (a job id as text for one without a key) */
                            dependsOn: string[];
                            /** @enum {string} */
                            runWhen: "success" | "always";
                            attempts: number;
                            progress: number | null;
                            progressNote: string | null;
                            lastError: string | null;
                            /** Format: int64 */
                            blockedBy: number | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            finishedAt: string | null;
                        }[];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    cancelWorkflow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["WorkflowId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description how many steps were cancelled */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: int64 */
                        id: number;
                        cancelled: number;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            405: components["responses"]["MethodNotAllowed"];
            413: components["responses"]["TooLarge"];
            503: components["responses"]["Unavailable"];
        };
    };
    whoami: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description who the token is */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description its name in api.tokens, or api.token */
                        name: string;
                        /** @enum {string} */
                        role: "viewer" | "operator" | "admin";
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
        };
    };
    listAudit: {
        parameters: {
            query?: {
                limit?: number;
                /** @description the previous page's next */
                after?: number;
                /** @description only this token's name */
                token?: string;
                /** @description at or after this time */
                from?: string;
                /** @description before this time */
                to?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description one page of the audit trail */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        entries: {
                            /** Format: int64 */
                            id: number;
                            /** Format: date-time */
                            at: string;
                            /** @description the token's name */
                            token: string;
                            method: string;
                            path: string;
                            /** @description the job id, schedule, queue, processor or user acted on; a bulk request's ids as 1,2,3 */
                            target: string | null;
                            /** @description the status the request was answered with */
                            status: number;
                        }[];
                        /**
                         * Format: int64
                         * @description after= for the next (older) page
                         */
                        next: number | null;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            405: components["responses"]["MethodNotAllowed"];
            503: components["responses"]["Unavailable"];
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the metrics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain; version=0.0.4; charset=utf-8": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the OpenAPI document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            405: components["responses"]["MethodNotAllowed"];
        };
    };
}
