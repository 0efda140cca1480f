/*
 * app.js -- the jobvisor dashboard: plain JavaScript, no library, no
 * network but this origin's REST API (the server's Content-Security-Policy
 * enforces it).
 *
 * The token lives in sessionStorage (this tab, until sign-out or close) and
 * travels only in the Authorization header. Views are chosen by the URL's
 * hash (#/, #/jobs, #/jobs/ID, #/workflows, #/workflows/ID, #/schedules,
 * #/alerts, #/audit) and refresh
 * themselves every few seconds while the tab is visible. Every list asks
 * the API for one bounded page; DOM nodes are built with textContent, so
 * nothing from the database is ever parsed as HTML. The header names the
 * token signed in (GET /api/whoami: its name and role, never the token);
 * actions its role may not take are not shown (a button made with
 * needs: "operator" or "admin").
 */
(function () {
	"use strict";

	var TOKEN_KEY = "jobvisor.token";
	var REFRESH_MS = 5000;
	var DAY_REFRESH_MS = 60000;
	var SVGNS = "http://www.w3.org/2000/svg";

	var state = {
		token: sessionStorage.getItem(TOKEN_KEY) || "",
		timer: null,
		view: null,
		generation: 0,       /* bumped on every view change: stale answers are dropped */
		day: null,           /* the 24 h throughput, refreshed every minute */
		dayAt: 0,
		processors: {},      /* id -> name, for running jobs */
		jobsCursor: [],      /* the jobs view's previous pages (after= values) */
		who: null,           /* GET /api/whoami: {name, role} of the token */
	};

	/* ------------------------------------------------------------ helpers */

	function $(id) { return document.getElementById(id); }

	/* el("td", {class: "num"}, "text", node, ...) */
	function el(tag, attrs) {
		var e = document.createElement(tag);
		setAttrs(e, attrs);
		for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
		return e;
	}

	function svg(tag, attrs) {
		var e = document.createElementNS(SVGNS, tag);
		setAttrs(e, attrs);
		for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
		return e;
	}

	function setAttrs(e, attrs) {
		if (!attrs) return;
		Object.keys(attrs).forEach(function (k) {
			var v = attrs[k];
			if (v === null || v === undefined || v === false) return;
			/* an action the signed-in token's role may not take: not shown
			 * (the API would refuse it with 403 anyway) */
			if (k === "needs") { if (!can(v)) { e.hidden = true; e.disabled = true; e.setAttribute("data-needs", v); } return; }
			if (k === "onclick") e.addEventListener("click", v);
			else if (k === "onchange") e.addEventListener("change", v);
			else e.setAttribute(k, v === true ? "" : String(v));
		});
	}

	function append(parent, child) {
		if (child === null || child === undefined || child === false) return;
		if (Array.isArray(child)) { child.forEach(function (c) { append(parent, c); }); return; }
		parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
	}

	/* Roles, each allowed what the one before may do and more. */
	var ROLES = {viewer: 0, operator: 1, admin: 2};

	function can(role) { return !!state.who && ROLES[state.who.role] >= ROLES[role]; }

	function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

	function fmtInt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }

	function fmtMs(ms) {
		if (ms === null || ms === undefined) return "–";
		if (ms < 1000) return Math.round(ms) + " ms";
		if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
		return (ms / 60000).toFixed(1) + " min";
	}

	function fmtAge(seconds) {
		if (seconds === null || seconds === undefined) return "–";
		seconds = Math.max(0, seconds);
		if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
		if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
		if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
		return Math.floor(seconds / 86400) + " d " + Math.floor((seconds % 86400) / 3600) + " h";
	}

	/* A whole number of seconds as its largest even unit: "90 s", "2 min", "1 h". */
	function fmtPeriod(seconds) {
		if (seconds % 86400 === 0) return seconds / 86400 + " d";
		if (seconds % 3600 === 0) return seconds / 3600 + " h";
		if (seconds % 60 === 0) return seconds / 60 + " min";
		return seconds + " s";
	}

	function since(iso) { return iso ? (Date.now() - Date.parse(iso)) / 1000 : null; }

	function when(iso) {
		if (!iso) return "–";
		var s = since(iso);
		var text = s >= 0 ? fmtAge(s) + " ago" : "in " + fmtAge(-s);
		return el("time", {datetime: iso, title: iso}, text);
	}

	function stateTag(s) { return el("span", {class: "state " + s}, s.replace("_", " ")); }

	function jobLink(id) { return el("a", {href: "#/jobs/" + id}, "#" + id); }

	// A job's JSON value; one the API cannot show as JSON (payloadOmitted,
	// resultOmitted) comes as its text, with the reason.
	function jsonPre(id, value, omitted, text) {
		if (!omitted) return el("pre", {id: id}, JSON.stringify(value, null, 2));
		return el("div", null, el("p", {class: "muted"}, "Shown as text: " + omitted), el("pre", {id: id}, text || ""));
	}

	function short(text, n) {
		if (!text) return "";
		return text.length > n ? text.slice(0, n - 1) + "…" : text;
	}

	function toast(text) {
		var t = $("toast");
		t.textContent = text;
		clearTimeout(toast.timer);
		toast.timer = setTimeout(function () { t.textContent = ""; }, 5000);
	}

	function banner(text) {
		var b = $("banner");
		b.textContent = text || "";
		b.hidden = !text;
	}

	/* ---------------------------------------------------------------- API */

	function ApiError(status, message) {
		this.status = status;
		this.message = message;
	}

	function api(method, path, body) {
		var opts = {method: method, headers: {"Authorization": "Bearer " + state.token}, cache: "no-store"};
		if (body !== undefined) {
			opts.headers["Content-Type"] = "application/json";
			opts.body = JSON.stringify(body);
		}
		return fetch(path, opts).then(function (res) {
			return res.text().then(function (text) {
				var data = null;
				try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
				if (res.status === 401) {
					signOut("The token was refused: " + (data && data.error ? data.error : "401"));
					throw new ApiError(401, "unauthorized");
				}
				if (!res.ok)
					throw new ApiError(res.status, data && data.error ? data.error : res.status + " " + res.statusText);
				return data;
			});
		});
	}

	/* Reads go at most READS_AT_ONCE at a time: a view asks for up to ten
	 * things at once, and the API has a few database connections
	 * (api.db_connections, 4 by default) for every client; a request that
	 * waits for one too long is answered 503. Queued here instead, the
	 * page fills in a little later on a busy server, and leaves the API
	 * room for other clients and for actions, which are not queued. */
	var READS_AT_ONCE = 2;
	var reads = {running: 0, waiting: []};

	/* A read has ended: its place goes to the next one waiting. */
	function readDone() {
		var next = reads.waiting.shift();
		if (next) next();
		else reads.running--;
	}

	function get(path) {
		return new Promise(function (resolve) {
			if (reads.running < READS_AT_ONCE) {
				reads.running++;
				resolve();
			} else {
				reads.waiting.push(resolve);
			}
		}).then(function () {
			return api("GET", path).then(function (r) {
				readDone();
				return r;
			}, function (e) {
				readDone();
				throw e;
			});
		});
	}

	/* Run an action; report its outcome (done: a text, or a function of the
	 * answer giving one) and refresh the view. */
	function act(promise, done) {
		return promise.then(function (r) {
			toast(typeof done === "function" ? done(r) : done);
			refresh();
			return r;
		}, function (e) {
			if (e.status !== 401) toast("Failed: " + (e.message || e));
		});
	}

	/* The confirmation dialog: resolves true when confirmed. */
	function confirmAction(title, text, label) {
		var d = $("confirm");
		$("confirm-title").textContent = title;
		$("confirm-text").textContent = text;
		$("confirm-yes").textContent = label;
		return new Promise(function (resolve) {
			function close(ok) {
				$("confirm-yes").removeEventListener("click", yes);
				$("confirm-no").removeEventListener("click", no);
				d.removeEventListener("cancel", no);
				d.close();
				resolve(ok);
			}
			function yes(ev) { ev.preventDefault(); close(true); }
			function no(ev) { ev.preventDefault(); close(false); }
			$("confirm-yes").addEventListener("click", yes);
			$("confirm-no").addEventListener("click", no);
			d.addEventListener("cancel", no);
			d.showModal();
			$("confirm-no").focus();
		});
	}

	/* ------------------------------------------------------------ actions */

	function retryJob(id) {
		return act(api("POST", "/api/jobs/" + id + "/retry", {}), "Job #" + id + " will run again.");
	}

	function cancelJob(id) {
		return confirmAction("Cancel job #" + id + "?",
			"A pending job will not run; a running one is stopped now. Its attempt is recorded as cancelled.",
			"Cancel job").then(function (ok) {
			if (ok) return act(api("POST", "/api/jobs/" + id + "/cancel"), "Job #" + id + " cancelled.");
		});
	}

	function pauseProcessor(p) {
		return confirmAction("Pause " + p.name + "?",
			"Processor " + p.name + " (#" + p.id + ", " + p.hostname + ") stops claiming new jobs; the jobs it runs go on.",
			"Pause").then(function (ok) {
			if (ok) return act(api("POST", "/api/processors/" + p.id + "/pause"), "Pause requested for " + p.name + ".");
		});
	}

	function resumeProcessor(p) {
		return act(api("POST", "/api/processors/" + p.id + "/resume"), "Resume requested for " + p.name + ".");
	}

	/* The horizon is the configured processor.stuck_job_timeout_minutes, as
	 * status says: never one shorter than the heartbeat allows. */
	function resetStuck() {
		return get("/api/cron/status").then(function (st) {
			var minutes = st.processor.stuckJobTimeoutMinutes;
			var span = minutes + (minutes === 1 ? " minute" : " minutes");
			return confirmAction("Reset stuck jobs?",
				"Jobs held by processors that stopped heartbeating for " + span + " go back to pending (or fail after their last attempt).",
				"Reset").then(function (ok) {
				if (ok) return act(api("POST", "/api/cron/reset-stuck-jobs", {timeoutMinutes: minutes}), function (r) {
					return "Stuck jobs reset: " + r.resetCount + " (silent for " + r.timeoutMinutes +
						(r.timeoutMinutes === 1 ? " minute)." : " minutes).");
				});
			});
		}, function (e) {
			if (e.status !== 401) toast("Failed: " + (e.message || e));
		});
	}

	/* A queue's switch holds for every processor (a row of jobvisor.queues). */
	function pauseQueue(q) {
		return confirmAction("Pause queue " + q.name + "?",
			"No processor starts a job of queue " + q.name + " until it is resumed; the " +
			fmtInt(q.running) + " running now finish.", "Pause queue").then(function (ok) {
			if (ok) return act(api("POST", "/api/queues/" + encodeURIComponent(q.name) + "/pause"),
				"Queue " + q.name + " paused.");
		});
	}

	function resumeQueue(q) {
		return confirmAction("Resume queue " + q.name + "?",
			"Every processor may start jobs of queue " + q.name + " again (" + fmtInt(q.due) + " due now).",
			"Resume queue").then(function (ok) {
			if (ok) return act(api("POST", "/api/queues/" + encodeURIComponent(q.name) + "/resume"),
				"Queue " + q.name + " resumed.");
		});
	}

	function setSchedule(s, enabled) {
		var go = enabled ? Promise.resolve(true) : confirmAction("Pause schedule " + s.name + "?",
			"No new runs of " + s.name + " until it is resumed (a config schedule is enabled again at the next reload).",
			"Pause");
		return go.then(function (ok) {
			if (ok) return act(api("PATCH", "/api/schedules/" + encodeURIComponent(s.name), {enabled: enabled}),
				"Schedule " + s.name + (enabled ? " resumed." : " paused."));
		});
	}

	/* ------------------------------------------------------------- charts */

	/* Stacked bars of succeeded and failed per bucket. */
	function throughputChart(points, bucket, label) {
		var W = 640, H = 180, L = 44, B = 22, T = 8, R = 8;
		var max = 0;
		points.forEach(function (p) { max = Math.max(max, p.succeeded + p.failed); });
		var top = niceMax(max);
		var total = points.reduce(function (a, p) { return a + p.succeeded + p.failed; }, 0);
		var failed = points.reduce(function (a, p) { return a + p.failed; }, 0);
		var s = svg("svg", {viewBox: "0 0 " + W + " " + H, class: "chart", role: "img",
			"aria-label": label + ": " + fmtInt(total) + " finished, " + fmtInt(failed) + " failed"});
		axes(s, W, H, L, B, T, R, top, function (v) { return fmtInt(v); });
		var n = Math.max(points.length, 1);
		var bw = (W - L - R) / n;
		points.forEach(function (p, i) {
			var x = L + i * bw + bw * 0.1, w = Math.max(bw * 0.8, 1);
			var hOk = (H - B - T) * p.succeeded / top, hBad = (H - B - T) * p.failed / top;
			var tip = timeLabel(p.at, bucket) + ": " + fmtInt(p.succeeded) + " succeeded, " + fmtInt(p.failed) + " failed";
			if (p.succeeded > 0)
				s.appendChild(svg("rect", {class: "bar-ok", x: x, y: H - B - hOk, width: w, height: hOk,
					"data-value": p.succeeded}, svg("title", null, tip)));
			if (p.failed > 0)
				s.appendChild(svg("rect", {class: "bar-bad", x: x, y: H - B - hOk - hBad, width: w, height: hBad,
					"data-value": p.failed}, svg("title", null, tip)));
		});
		if (points.length) {
			s.appendChild(svg("text", {x: L, y: H - 6}, timeLabel(points[0].at, bucket)));
			s.appendChild(svg("text", {x: W - R, y: H - 6, "text-anchor": "end"}, timeLabel(points[points.length - 1].at, bucket)));
		}
		return s;
	}

	/* p50 and p95 durations by type, as horizontal bars. */
	function durationChart(byType) {
		var rows = byType.slice(0, 12);
		var W = 640, row = 30, L = 120, R = 70, T = 6;
		var H = Math.max(rows.length, 1) * row + T + 20;
		var max = 0;
		rows.forEach(function (t) { max = Math.max(max, t.durationMs.p95 || 0, t.durationMs.p50 || 0); });
		var top = niceMax(max);
		var s = svg("svg", {viewBox: "0 0 " + W + " " + H, class: "chart", role: "img",
			"aria-label": "Duration by type, p50 and p95: " + rows.map(function (t) {
				return t.type + " " + fmtMs(t.durationMs.p50) + " / " + fmtMs(t.durationMs.p95);
			}).join("; ")});
		rows.forEach(function (t, i) {
			var y = T + i * row;
			var w50 = (W - L - R) * (t.durationMs.p50 || 0) / top;
			var w95 = (W - L - R) * (t.durationMs.p95 || 0) / top;
			s.appendChild(svg("text", {x: L - 6, y: y + 17, "text-anchor": "end"}, short(t.type, 18)));
			s.appendChild(svg("rect", {class: "bar-p95", x: L, y: y + 3, width: Math.max(w95, 1), height: 11,
				"data-value": t.durationMs.p95}, svg("title", null, t.type + " p95 " + fmtMs(t.durationMs.p95))));
			s.appendChild(svg("rect", {class: "bar-p50", x: L, y: y + 15, width: Math.max(w50, 1), height: 11,
				"data-value": t.durationMs.p50}, svg("title", null, t.type + " p50 " + fmtMs(t.durationMs.p50))));
			s.appendChild(svg("text", {x: L + Math.max(w95, w50) + 6, y: y + 17},
				fmtMs(t.durationMs.p50) + " / " + fmtMs(t.durationMs.p95)));
		});
		s.appendChild(svg("line", {class: "axis", x1: L, y1: T, x2: L, y2: H - 20}));
		s.appendChild(svg("text", {x: W - R, y: H - 4, "text-anchor": "end"}, "0 – " + fmtMs(top)));
		return s;
	}

	function axes(s, W, H, L, B, T, R, top, fmt) {
		[0, 0.5, 1].forEach(function (f) {
			var y = H - B - (H - B - T) * f;
			s.appendChild(svg("line", {class: "axis", x1: L, y1: y, x2: W - R, y2: y}));
			s.appendChild(svg("text", {x: L - 4, y: y + 4, "text-anchor": "end"}, fmt(top * f)));
		});
	}

	function niceMax(v) {
		if (v <= 0) return 1;
		var p = Math.pow(10, Math.floor(Math.log10(v)));
		var m = [1, 2, 2.5, 5, 10].find(function (k) { return k * p >= v; });
		return m * p;
	}

	function timeLabel(iso, bucket) {
		var d = new Date(iso);
		var hh = String(d.getHours()).padStart(2, "0"), mm = String(d.getMinutes()).padStart(2, "0");
		return bucket === "hour" ? d.toLocaleDateString("en-GB", {month: "short", day: "numeric"}) + " " + hh + ":00" : hh + ":" + mm;
	}

	/* ------------------------------------------------------------- tables */

	function table(caption, heads, rows, emptyText) {
		if (!rows.length) return el("p", {class: "empty"}, emptyText);
		return el("div", {class: "table-wrap"},
			el("table", null,
				caption ? el("caption", {class: "muted", hidden: true}, caption) : null,
				el("thead", null, el("tr", null, heads.map(function (h) {
					return el("th", {scope: "col", class: typeof h === "string" &&
						/^(Running|Attempts|Count|Age|Elapsed|Heartbeat|Pending|Due|Window|Oldest|Limit$|Weight)/.test(h) ? "num" : null}, h);
				}))),
				el("tbody", null, rows)));
	}

	function panel(id, title, extra) {
		var body = el("div", {id: id + "-body"});
		var p = el("section", {class: "panel", id: id, "aria-labelledby": id + "-title"},
			el("div", {class: "panel-head"}, el("h2", {id: id + "-title"}, title), extra || null), body);
		return {node: p, body: body};
	}

	/* ----------------------------------------------------------- overview */

	function overview() {
		var view = $("view");
		clear(view);
		var counts = panel("counts", "Jobs by status",
			el("button", {type: "button", needs: "operator", class: "secondary small", onclick: resetStuck}, "Reset stuck jobs"));
		var hour = panel("throughput", "Throughput, last hour (per minute)",
			el("div", {class: "legend"}, el("span", {class: "ok"}, "succeeded"), el("span", {class: "bad"}, "failed")));
		var day = panel("throughput-day", "Throughput, last 24 hours (per hour)",
			el("div", {class: "legend"}, el("span", {class: "ok"}, "succeeded"), el("span", {class: "bad"}, "failed")));
		var dur = panel("durations", "Duration by type, last hour",
			el("div", {class: "legend"}, el("span", {class: "p50"}, "p50"), el("span", {class: "p95"}, "p95")));
		var running = panel("running", "Running jobs", el("a", {href: "#/jobs?status=running"}, "all"));
		var failures = panel("failures", "Recent failures", el("a", {href: "#/jobs?status=failed"}, "all"));
		var procs = panel("processors", "Processors");
		var scheds = panel("schedules", "Schedules", el("a", {href: "#/schedules"}, "all"));
		var alerts = panel("alerts", "Recent alerts", el("a", {href: "#/alerts"}, "all"));
		var queues = panel("queues", "Queues");
		var limited = panel("users-at-limit", "Users at their limit");
		counts.node.classList.add("wide");
		failures.node.classList.add("wide");
		queues.node.classList.add("wide");
		view.appendChild(el("h1", null, "Overview"));
		view.appendChild(el("div", {class: "grid"}, counts.node, queues.node, hour.node, day.node, dur.node,
			procs.node, limited.node, running.node, failures.node, scheds.node, alerts.node));

		return function update(gen) {
			var hourStart = new Date(Date.now() - 3600 * 1000).toISOString();
			var jobs = [
				get("/api/cron/status").then(function (st) {
					if (gen !== state.generation) return;
					renderCounts(counts.body, st.jobs, st.oldestDuePendingAgeSeconds);
					renderProcessors(procs.body, st.processors);
				}),
				get("/api/cron/throughput?bucket=minute&startDate=" + encodeURIComponent(hourStart)).then(function (m) {
					if (gen !== state.generation) return;
					replace(hour.body, throughputChart(m.points, "minute", "Throughput per minute over the last hour"),
						m.sampled ? el("p", {class: "muted"}, "estimated from a sample") : null);
				}),
				get("/api/cron/metrics?startDate=" + encodeURIComponent(hourStart)).then(function (m) {
					if (gen !== state.generation) return;
					replace(dur.body, m.byType.length ? durationChart(m.byType)
						: el("p", {class: "empty"}, "No executions in the last hour."));
				}),
				get("/api/jobs?status=running&limit=20").then(function (r) {
					if (gen === state.generation) renderRunning(running.body, r);
				}),
				get("/api/jobs?status=failed&limit=10").then(function (r) {
					if (gen === state.generation) renderFailures(failures.body, r.jobs);
				}),
				get("/api/schedules?limit=10").then(function (r) {
					if (gen === state.generation) renderSchedules(scheds.body, r.schedules, true);
				}),
				get("/api/alerts?limit=8").then(function (r) {
					if (gen === state.generation) renderAlerts(alerts.body, r.alerts, true);
				}),
				get("/api/queues").then(function (r) {
					if (gen === state.generation) renderQueues(queues.body, r.queues);
					return get("/api/users?atLimit=true&limit=20");
				}).then(function (r) {
					if (gen === state.generation) renderUsersAtLimit(limited.body, r);
				}),
			];
			if (!state.day || Date.now() - state.dayAt > DAY_REFRESH_MS) {
				jobs.push(get("/api/cron/throughput?bucket=hour").then(function (m) {
					state.day = m;
					state.dayAt = Date.now();
				}));
			}
			return Promise.all(jobs).then(function () {
				if (gen !== state.generation || !state.day) return;
				replace(day.body, throughputChart(state.day.points, "hour", "Throughput per hour over the last 24 hours"),
					state.day.sampled ? el("p", {class: "muted"}, "estimated from a sample") : null);
			});
		};
	}

	function replace(node) {
		clear(node);
		for (var i = 1; i < arguments.length; i++) append(node, arguments[i]);
	}

	function renderCounts(body, jobs, oldest) {
		var order = ["waiting", "pending", "running", "succeeded", "failed", "cancelled"];
		replace(body, el("div", {class: "counts"}, order.map(function (s) {
			return el("a", {class: "count " + s, href: "#/jobs?status=" + s, id: "count-" + s},
				el("span", {class: "n", "data-count": jobs[s] || 0}, fmtInt(jobs[s] || 0)),
				el("span", {class: "label"}, s));
		})), el("p", {class: "muted"}, "Oldest due pending job: ",
			oldest === null || oldest === undefined ? "none" : fmtAge(oldest) + " waiting"));
	}

	function renderProcessors(body, list) {
		state.processors = {};
		list.forEach(function (p) { state.processors[p.id] = p.name; });
		replace(body, table("Processors", ["Name", "Host", "State", "Heartbeat age", "Running", ""],
			list.map(function (p) {
				var stale = p.heartbeatAgeSeconds > 120;
				return el("tr", {"data-processor": p.id},
					el("td", null, p.name, el("span", {class: "muted"}, " #" + p.id)),
					el("td", null, p.hostname + " (pid " + p.pid + ")"),
					el("td", null, stateTag(p.state)),
					el("td", {class: "num" + (stale ? " err" : "")}, fmtAge(p.heartbeatAgeSeconds)),
					el("td", {class: "num"}, fmtInt(p.runningJobs)),
					el("td", null, p.state === "running"
						? el("button", {type: "button", needs: "operator", class: "secondary small", "aria-label": "Pause processor " + p.name,
							onclick: function () { pauseProcessor(p); }}, "Pause")
						: p.state === "paused"
							? el("button", {type: "button", needs: "operator", class: "small", "aria-label": "Resume processor " + p.name,
								onclick: function () { resumeProcessor(p); }}, "Resume")
							: null));
			}), "No processor is running."));
	}

	var HELD = {paused: "paused", global_concurrency: "global concurrency", rate_limit: "rate limit"};

	function limitsText(q) {
		var parts = [];
		if (q.concurrency !== null) parts.push(q.concurrency + " here");
		if (q.globalConcurrency !== null) parts.push(q.globalConcurrency + " in all");
		if (q.rateLimit) parts.push(q.rateLimit.allowed + " per " + fmtPeriod(q.rateLimit.periodSeconds) +
			(q.rateLimit.partitionBy !== "none" ? " per " + q.rateLimit.partitionBy.replace("_id", "") : ""));
		return parts.length ? parts.join(", ") : "none";
	}

	function renderQueues(body, list) {
		replace(body, table("Queues", ["Queue", "Pending", "Due", "Running", "Limits", "Window starts", "Held by", "Oldest due", ""],
			list.map(function (q) {
				return el("tr", {"data-queue": q.name},
					el("td", null, q.name, q.served ? null : el("span", {class: "muted", title: "processor.queues of this processor leaves it out"}, " (not served here)"),
						q.paused ? el("span", {class: "state paused", title: "paused by " + (q.pausedBy || "?") + (q.pausedAt ? " at " + q.pausedAt : "")}, " paused") : null),
					el("td", {class: "num"}, fmtInt(q.pending)),
					el("td", {class: "num"}, fmtInt(q.due)),
					el("td", {class: "num"}, fmtInt(q.running)),
					el("td", null, limitsText(q)),
					el("td", {class: "num"}, q.rateLimit ? fmtInt(q.windowStarts) +
						(q.ratePartitionsFull ? " (" + fmtInt(q.ratePartitionsFull) + " full)" : "") : "–"),
					el("td", {class: q.heldBy ? "err" : null}, q.heldBy ? HELD[q.heldBy] || q.heldBy : "–"),
					el("td", {class: "num"}, fmtAge(q.oldestDueAgeSeconds)),
					el("td", null, q.paused
						? el("button", {type: "button", needs: "operator", class: "small", "data-action": "resume",
							"aria-label": "Resume queue " + q.name, onclick: function () { resumeQueue(q); }}, "Resume")
						: el("button", {type: "button", needs: "operator", class: "secondary small", "data-action": "pause",
							"aria-label": "Pause queue " + q.name, onclick: function () { pauseQueue(q); }}, "Pause")));
			}), "No queues."));
	}

	function renderUsersAtLimit(body, r) {
		replace(body, table("Users at their limit", ["User", "Running", "Limit", "Pending", "Weight"],
			r.users.map(function (u) {
				return el("tr", {"data-user": u.userId},
					el("td", null, u.userId, u.overridden ? el("span", {class: "muted", title: "its own limits (PUT /api/users/ID/limits)"}, " (own limits)") : null),
					el("td", {class: "num"}, fmtInt(u.running)),
					el("td", {class: "num"}, fmtInt(u.maxRunning)),
					el("td", {class: "num"}, fmtInt(u.pending)),
					el("td", {class: "num"}, fmtInt(u.weight)));
			}), "No user is at their limit."),
			r.next ? el("p", {class: "muted"}, "Showing the first 20.") : null);
	}

	function renderRunning(body, r) {
		replace(body, table("Running jobs", ["Job", "Type", "User", "Processor", "Elapsed", "Progress", ""],
			r.jobs.map(function (j) {
				return el("tr", null,
					el("td", null, jobLink(j.id)),
					el("td", null, j.type),
					el("td", null, j.user || "–"),
					el("td", null, state.processors[j.lockedBy] || (j.lockedBy ? "#" + j.lockedBy : "–")),
					el("td", {class: "num"}, fmtAge(since(j.startedAt))),
					el("td", null, progressBar(j) || "–"),
					el("td", null, el("button", {type: "button", needs: "operator", class: "secondary small", "aria-label": "Cancel job " + j.id,
						onclick: function () { cancelJob(j.id); }}, "Cancel")));
			}), "Nothing is running."),
			r.next ? el("p", {class: "muted"}, "Showing the newest 20. ", el("a", {href: "#/jobs?status=running"}, "See all")) : null);
	}

	function renderFailures(body, jobs) {
		replace(body, table("Recent failures", ["Job", "Type", "User", "Failed", "Attempts", "Error", ""],
			jobs.map(function (j) {
				return el("tr", {"data-job": j.id},
					el("td", null, jobLink(j.id)),
					el("td", null, j.type),
					el("td", null, j.user || "–"),
					el("td", null, when(j.finishedAt)),
					el("td", {class: "num"}, j.attempts + "/" + j.maxAttempts),
					el("td", {class: "err"}, short(j.lastError, 300)),
					el("td", null, el("button", {type: "button", needs: "operator", class: "small", "data-action": "retry",
						"aria-label": "Retry job " + j.id, onclick: function () { retryJob(j.id); }}, "Retry")));
			}), "No failed jobs."));
	}

	function renderSchedules(body, list, compact) {
		replace(body, table("Schedules", compact ? ["Name", "Cron", "Next runs", ""] : ["Name", "Cron", "Zone", "Type", "Next runs", "Last run", "Source", ""],
			list.map(function (s) {
				var next = (s.nextRuns || []).slice(0, compact ? 2 : 5);
				var cells = [
					el("td", null, s.name, s.enabled ? null : el("span", {class: "state paused"}, " paused")),
					el("td", null, el("code", null, s.cron), compact ? el("span", {class: "muted"}, " " + s.timezone) : null),
				];
				if (!compact) cells.push(el("td", null, s.timezone), el("td", null, s.type));
				cells.push(el("td", null, s.enabled ? next.map(function (t, i) {
					return [i ? ", " : "", when(t)];
				}) : el("span", {class: "muted"}, "paused")));
				if (!compact) cells.push(el("td", null, s.lastRunAt ? when(s.lastRunAt) : "never",
					s.lastJobId ? [" ", jobLink(s.lastJobId)] : null), el("td", null, s.source));
				cells.push(el("td", null, el("button", {type: "button", needs: "admin", class: s.enabled ? "secondary small" : "small",
					"aria-label": (s.enabled ? "Pause" : "Resume") + " schedule " + s.name,
					onclick: function () { setSchedule(s, !s.enabled); }}, s.enabled ? "Pause" : "Resume")));
				return el("tr", {"data-schedule": s.name}, cells);
			}), "No schedules."));
	}

	function renderAlerts(body, list, compact) {
		var heads = compact ? ["When", "Event", "Job", "Status"] : ["When", "Event", "Title", "Count", "Job", "Sink", "Status", "Error"];
		replace(body, table("Alerts", heads, list.map(function (a) {
			var cells = [el("td", null, when(a.createdAt)), el("td", null, a.event)];
			if (!compact) cells.push(el("td", null, a.title), el("td", {class: "num"}, fmtInt(a.count)));
			cells.push(el("td", null, a.jobId ? jobLink(a.jobId) : "–"));
			if (!compact) cells.push(el("td", null, a.sink + " (" + a.plugin + ")"));
			cells.push(el("td", null, stateTag(a.status), compact && a.count > 1 ? " ×" + a.count : null));
			if (!compact) cells.push(el("td", {class: "err"}, short(a.error, 200)));
			return el("tr", null, cells);
		}), "No alerts."));
	}

	/* --------------------------------------------------------------- jobs */

	/* The jobs list's search, as GET /api/jobs takes it and as the URL's
	 * hash keeps it (#/jobs?type=mail&q=timeout): a search can be shared
	 * by its address. from/to are ISO 8601 instants (created_at). */
	var JOB_FILTERS = ["id", "status", "type", "user", "queue", "q", "from", "to", "workflow"];
	var JOB_STATES = ["waiting", "pending", "running", "succeeded", "failed", "cancelled"];

	function filterQuery(f, after) {
		var p = new URLSearchParams();
		JOB_FILTERS.forEach(function (k) { if (f[k]) p.set(k, f[k]); });
		if (after) p.set("after", after);
		return p.toString();
	}

	/* An ISO instant as a datetime-local field's value (local time), and back. */
	function localInput(iso) {
		var d = new Date(iso);
		if (!iso || isNaN(d.getTime())) return "";
		function two(n) { return String(n).padStart(2, "0"); }
		return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" +
			two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
	}

	function isoOf(local) {
		var d = new Date(local);
		return !local || isNaN(d.getTime()) ? "" : d.toISOString().replace(/\.000Z$/, "Z");
	}

	/* A running job's progress, as the executor last reported it. */
	function progressBar(j, label) {
		if (j.progress === null || j.progress === undefined) return null;
		return el("span", {class: "progress", "data-progress": j.progress},
			el("progress", {max: 100, value: j.progress, "aria-label": label || "Progress of job " + j.id},
				j.progress + " %"),
			el("span", {class: "pct"}, j.progress + " %"),
			j.progressNote ? el("span", {class: "muted note"}, short(j.progressNote, 80)) : null);
	}

	/* The status of a job in a list: a running one with its progress. */
	function statusCell(j) {
		return el("td", null, stateTag(j.status), j.status === "running" ? progressBar(j) : null);
	}

	/* Re-rendering a list every few seconds must not take the keyboard's
	 * place away: give focus back to the element of the same id. */
	function keepFocus(fn) {
		var a = document.activeElement, id = a && a.id;
		fn();
		if (id && document.activeElement !== a && $(id)) $(id).focus();
	}

	function jobsView(query) {
		var view = $("view");
		clear(view);
		var params = new URLSearchParams(query);
		var f = {};
		JOB_FILTERS.forEach(function (k) { f[k] = params.get(k) || ""; });
		var after = params.get("after") || "";
		var selected = {};  /* job id -> true: the rows checked on this page */
		var shown = [];     /* the page's jobs, as last drawn */

		var inputs = {};
		function field(k, label, attrs) {
			inputs[k] = el("input", Object.assign({id: "f-" + k, name: k, value: f[k]}, attrs || {}));
			return el("label", {for: "f-" + k}, label, inputs[k]);
		}
		inputs.status = el("select", {id: "f-status", name: "status"},
			[""].concat(JOB_STATES).map(function (s) {
				return el("option", {value: s, selected: s === f.status}, s || "any");
			}));
		var form = el("form", {class: "filters", role: "search", "aria-label": "Search jobs"},
			field("id", "Id", {size: 8, inputmode: "numeric"}),
			el("label", {for: "f-status"}, "Status", inputs.status),
			field("type", "Type", {size: 12}),
			field("user", "User", {size: 12}),
			field("queue", "Queue", {size: 10}),
			field("q", "Error text", {size: 18, type: "search"}),
			field("from", "Created from", {type: "datetime-local", step: 1, value: localInput(f.from)}),
			field("to", "Created to", {type: "datetime-local", step: 1, value: localInput(f.to)}),
			field("workflow", "Workflow", {size: 6, inputmode: "numeric"}),
			el("button", {type: "submit"}, "Search"),
			el("a", {href: "#/jobs", class: "reset"}, "Clear"));
		form.addEventListener("submit", function (ev) {
			ev.preventDefault();
			var nf = {};
			JOB_FILTERS.forEach(function (k) { nf[k] = inputs[k].value.trim(); });
			nf.from = isoOf(inputs.from.value);
			nf.to = isoOf(inputs.to.value);
			state.jobsCursor = [];
			location.hash = "#/jobs?" + filterQuery(nf, "");
		});

		var count = el("span", {id: "bulk-count", class: "muted", "aria-live": "polite"}, "none selected");
		var retryBtn = el("button", {type: "button", needs: "operator", id: "bulk-retry", class: "small", disabled: true,
			onclick: function () { bulk("retry"); }}, "Retry selected");
		var cancelBtn = el("button", {type: "button", needs: "operator", id: "bulk-cancel", class: "small danger", disabled: true,
			onclick: function () { bulk("cancel"); }}, "Cancel selected");
		var bar = el("div", {class: "bulk", role: "group", "aria-label": "Selected jobs"}, count, retryBtn, cancelBtn);
		var body = el("div", {id: "jobs-body"});
		view.appendChild(el("h1", null, "Jobs"));
		view.appendChild(el("section", {class: "panel"}, form, bar, body));

		function ids() {
			return Object.keys(selected).map(Number).sort(function (a, b) { return a - b; });
		}

		function selectionChanged() {
			var n = ids().length;
			count.textContent = n ? n + " selected" : "none selected";
			retryBtn.disabled = cancelBtn.disabled = !n;
			var all = $("sel-all");
			if (all) {
				all.checked = n > 0 && n === shown.length;
				all.indeterminate = n > 0 && n < shown.length;
			}
		}

		/* Bulk retry or cancel of the rows checked, asked first; the API
		 * says which changed (a retry only changes failed or cancelled
		 * jobs, a cancel only pending, waiting or running ones). */
		function bulk(what) {
			var list = ids();
			if (!list.length) return;
			var names = list.length <= 8 ? list.map(function (i) { return "#" + i; }).join(", ")
				: list.slice(0, 8).map(function (i) { return "#" + i; }).join(", ") + " and " + (list.length - 8) + " more";
			var n = list.length + (list.length === 1 ? " job" : " jobs");
			var ask = what === "retry"
				? confirmAction("Retry " + n + "?", "Jobs " + names + " run again if they failed or were cancelled; the others are left as they are.", "Retry " + n)
				: confirmAction("Cancel " + n + "?", "Jobs " + names + " are cancelled if they have not finished: a waiting or pending one will not run, a running one is stopped now.", "Cancel " + n);
			return ask.then(function (ok) {
				if (!ok) return;
				return act(api("POST", "/api/jobs/" + what, {ids: list}), function (r) {
					selected = {};
					selectionChanged();
					return (what === "retry" ? "Retry: " : "Cancel: ") + r.changed.length + " changed, " +
						r.unchanged.length + " unchanged" + (r.unchanged.length ? " (" + short(r.unchanged.map(function (i) {
							return "#" + i;
						}).join(", "), 80) + ")." : ".");
				});
			});
		}

		function checkbox(j) {
			return el("input", {type: "checkbox", class: "sel", id: "sel-" + j.id, value: j.id,
				checked: !!selected[j.id], "aria-label": "Select job " + j.id,
				onchange: function (ev) {
					if (ev.target.checked) selected[j.id] = true;
					else delete selected[j.id];
					selectionChanged();
				}});
		}

		return function update(gen) {
			var q = filterQuery(f, after);
			return get("/api/jobs?limit=50" + (q ? "&" + q : "")).then(function (r) {
				if (gen !== state.generation) return;
				shown = r.jobs;
				/* Only rows on the page can stay selected: an action acts on what is seen. */
				var here = {};
				r.jobs.forEach(function (j) { if (selected[j.id]) here[j.id] = true; });
				selected = here;
				var all = el("input", {type: "checkbox", id: "sel-all", "aria-label": "Select all jobs on this page",
					onchange: function (ev) {
						selected = {};
						if (ev.target.checked) shown.forEach(function (j) { selected[j.id] = true; });
						Array.prototype.forEach.call(body.querySelectorAll("input.sel"), function (c) { c.checked = ev.target.checked; });
						selectionChanged();
					}});
				keepFocus(function () {
					replace(body, table("Jobs", [all, "Job", "Type", "User", "Queue", "Status", "Attempts", "Created", "Finished", "Last error"],
						r.jobs.map(function (j) {
							return el("tr", {"data-job": j.id, "data-status": j.status},
								el("td", null, checkbox(j)),
								el("td", null, jobLink(j.id)), el("td", null, j.type), el("td", null, j.user || "–"),
								el("td", null, j.queue || "–"),
								statusCell(j), el("td", {class: "num"}, j.attempts + "/" + j.maxAttempts),
								el("td", null, when(j.createdAt)), el("td", null, when(j.finishedAt)),
								el("td", {class: "err"}, short(j.lastError, 160)));
						}), "No jobs match."),
						el("nav", {class: "pager", "aria-label": "Pages"},
							after ? el("a", {href: "#/jobs?" + filterQuery(f, "")}, "First page") : null,
							state.jobsCursor.length ? el("a", {href: "#/jobs?" + filterQuery(f, state.jobsCursor[state.jobsCursor.length - 1]),
								onclick: function () { state.jobsCursor.pop(); }}, "Previous") : null,
							r.next ? el("a", {href: "#/jobs?" + filterQuery(f, String(r.next)),
								onclick: function () { state.jobsCursor.push(after); }}, "Next page") : null,
							el("span", {class: "muted", id: "jobs-shown"}, r.jobs.length + " shown, newest first")));
				});
				selectionChanged();
			}, function (e) {
				if (e.status === 400 && gen === state.generation) replace(body, el("p", {class: "error", id: "jobs-error"}, e.message));
				else throw e;
			});
		};
	}

	function jobView(id) {
		var view = $("view");
		clear(view);
		var body = el("div", {id: "job-body"});
		view.appendChild(el("p", null, el("a", {href: "#/jobs"}, "← Jobs")));
		view.appendChild(el("h1", null, "Job #" + id));
		view.appendChild(body);
		return function update(gen) {
			return get("/api/jobs/" + encodeURIComponent(id)).then(function (j) {
				if (gen !== state.generation) return;
				var actions = el("div", {class: "actions"},
					j.status === "failed" || j.status === "cancelled"
						? el("button", {type: "button", needs: "operator", "data-action": "retry", onclick: function () { retryJob(j.id); }}, "Retry") : null,
					j.status === "pending" || j.status === "running" || j.status === "waiting"
						? el("button", {type: "button", needs: "operator", class: "danger", onclick: function () { cancelJob(j.id); }}, "Cancel") : null);
				var deps = j.dependsOn || [];
				var kv = el("dl", {class: "kv"}, [
					["Status", stateTag(j.status)], ["Type", j.type], ["User", j.user || "–"],
					["Attempts", j.attempts + " of " + j.maxAttempts], ["Priority", j.priority],
					["Timeout", j.timeoutSeconds ? j.timeoutSeconds + " s" : "the executor's"],
					["Unique key", j.uniqueKey || "–"], ["Scheduled", when(j.scheduledAt)], ["Created", when(j.createdAt)],
					["Started", when(j.startedAt)], ["Finished", when(j.finishedAt)],
					["Processor", j.lockedBy ? "#" + j.lockedBy : "–"],
					j.progress !== null && j.progress !== undefined ? ["Progress", el("span", {id: "job-progress"},
						progressBar(j), j.progressAt ? el("span", {class: "muted"}, " reported ", when(j.progressAt)) : null)] : null,
					j.workflowId ? ["Workflow", el("span", null, el("a", {href: "#/workflows/" + j.workflowId, id: "job-workflow"},
						"#" + j.workflowId), j.workflowKey ? el("span", null, " step ", el("code", null, j.workflowKey)) : null)] : null,
					deps.length ? ["Depends on", el("span", {id: "job-deps"}, deps.map(function (d, i) {
						return [i ? ", " : "", jobLink(d)];
					}), j.runWhen === "always" ? el("span", {class: "muted"}, " (runs when they finish, either way)") : null)] : null,
					j.blockedBy ? ["Blocked by", jobLink(j.blockedBy)] : null,
				].filter(Boolean).map(function (kv) { return [el("dt", null, kv[0]), el("dd", null, kv[1])]; }));
				var execs = table("Executions", ["Attempt", "Outcome", "Processor", "Started", "Duration", "Error", "Output"],
					j.executions.map(function (e) {
						return el("tr", {"data-attempt": e.attempt},
							el("td", {class: "num"}, e.attempt + (e.stale ? " (stale)" : "")),
							el("td", null, e.outcome ? stateTag(e.outcome) : "running"),
							el("td", null, e.processor ? "#" + e.processor : "–"),
							el("td", null, when(e.startedAt)),
							el("td", {class: "num"}, fmtMs(e.durationMs)),
							el("td", {class: "err"}, e.error || ""),
							el("td", null, e.output ? el("pre", {class: "output"}, e.output) : el("span", {class: "muted"}, "none")));
					}), "No attempt yet.");
				replace(body,
					el("div", {class: "grid"},
						el("section", {class: "panel", "aria-labelledby": "job-detail"}, el("div", {class: "panel-head"},
							el("h2", {id: "job-detail"}, "Details"), actions), kv,
							j.lastError ? el("p", {class: "error", id: "job-error"}, j.lastError) : null),
						el("section", {class: "panel", "aria-labelledby": "job-payload"}, el("h2", {id: "job-payload"}, "Payload"),
							jsonPre("payload", j.payload, j.payloadOmitted, j.payloadText),
							el("h2", {id: "job-result"}, "Result"),
							j.result === null && !j.resultOmitted ? el("p", {class: "empty"}, "none") : jsonPre("result", j.result, j.resultOmitted, j.resultText))),
					el("section", {class: "panel", "aria-labelledby": "job-execs"}, el("h2", {id: "job-execs"}, "Executions"), execs));
			}, function (e) {
				if (e.status === 404 || e.status === 400) {
					if (gen === state.generation) replace(body, el("p", {class: "error"}, e.message));
				} else throw e;
			});
		};
	}

	/* ---------------------------------------------------------- workflows */

	var WF_STATES = ["running", "succeeded", "failed", "cancelled"];

	function countsText(counts) {
		var parts = JOB_STATES.filter(function (s) { return counts && counts[s]; }).map(function (s) {
			return el("span", {class: "count-" + s}, fmtInt(counts[s]) + " " + s);
		});
		return parts.length ? parts.map(function (p, i) { return [i ? ", " : "", p]; }) : "–";
	}

	function workflowsView(query) {
		var view = $("view");
		clear(view);
		var params = new URLSearchParams(query);
		var status = params.get("status") || "", after = params.get("after") || "";
		var sel = el("select", {id: "wf-status", name: "status"}, [""].concat(WF_STATES).map(function (s) {
			return el("option", {value: s, selected: s === status}, s || "any");
		}));
		var form = el("form", {class: "filters", role: "search", "aria-label": "Filter workflows"},
			el("label", {for: "wf-status"}, "Status", sel), el("button", {type: "submit"}, "Filter"));
		form.addEventListener("submit", function (ev) {
			ev.preventDefault();
			location.hash = "#/workflows" + (sel.value ? "?status=" + encodeURIComponent(sel.value) : "");
		});
		var body = el("div", {id: "workflows-body"});
		view.appendChild(el("h1", null, "Workflows"));
		view.appendChild(el("section", {class: "panel"}, form, body));
		return function update(gen) {
			var q = new URLSearchParams();
			if (status) q.set("status", status);
			if (after) q.set("after", after);
			return get("/api/workflows?limit=50" + (q.toString() ? "&" + q : "")).then(function (r) {
				if (gen !== state.generation) return;
				replace(body, table("Workflows", ["Workflow", "Name", "Status", "Steps", "Created", "By"],
					r.workflows.map(function (w) {
						return el("tr", {"data-workflow": w.id},
							el("td", null, el("a", {href: "#/workflows/" + w.id}, "#" + w.id)),
							el("td", null, w.name), el("td", null, stateTag(w.status)),
							el("td", null, countsText(w.counts)), el("td", null, when(w.createdAt)),
							el("td", null, w.createdBy || "–"));
					}), "No workflows."),
					el("nav", {class: "pager", "aria-label": "Pages"},
						after ? el("a", {href: "#/workflows" + (status ? "?status=" + encodeURIComponent(status) : "")}, "Newest") : null,
						r.next ? el("a", {href: "#/workflows?" + (status ? "status=" + encodeURIComponent(status) + "&" : "") +
							"after=" + r.next}, "Older") : null));
			}, function (e) {
				if (e.status === 400 && gen === state.generation) replace(body, el("p", {class: "error"}, e.message));
				else throw e;
			});
		};
	}

	/* Layers by dependency depth: a step sits one layer right of its
	 * deepest dependency (Kahn's order, no recursion: a chain of 10 000
	 * steps is a loop, not a stack). Within a layer, steps are ordered by
	 * the mean place of their dependencies, which keeps most edges short. */
	function dagLayers(steps) {
		var n = steps.length, index = {}, parents = [], children = [], indeg = [], layer = [];
		steps.forEach(function (s, i) {
			index[s.key] = i;
			parents.push([]);
			children.push([]);
			indeg.push(0);
			layer.push(0);
		});
		steps.forEach(function (s, i) {
			(s.dependsOn || []).forEach(function (k) {
				var p = index[k];
				if (p === undefined || p === i) return;
				parents[i].push(p);
				children[p].push(i);
				indeg[i]++;
			});
		});
		var queue = [], seen = 0;
		for (var i = 0; i < n; i++) if (!indeg[i]) queue.push(i);
		for (var h = 0; h < queue.length; h++) {
			var u = queue[h];
			seen++;
			children[u].forEach(function (c) {
				layer[c] = Math.max(layer[c], layer[u] + 1);
				if (--indeg[c] === 0) queue.push(c);
			});
		}
		var depth = 0;
		layer.forEach(function (l) { depth = Math.max(depth, l); });
		if (seen < n) /* a cycle (the API refuses them): its steps in a last layer */
			for (i = 0; i < n; i++) if (indeg[i] > 0) layer[i] = depth + 1;
		var layers = [];
		layer.forEach(function (l, i) { (layers[l] = layers[l] || []).push(i); });
		layers = layers.filter(Boolean);
		var place = [];
		layers.forEach(function (list, li) {
			if (li > 0) {
				var key = {};
				list.forEach(function (i) {
					var ps = parents[i], sum = 0;
					ps.forEach(function (p) { sum += place[p]; });
					key[i] = ps.length ? sum / ps.length : 0;
				});
				list.sort(function (a, b) { return key[a] - key[b] || a - b; });
			}
			list.forEach(function (i, k) { place[i] = k; });
		});
		return {layers: layers, parents: parents};
	}

	/* The DAG as SVG, left to right. Up to 150 steps, each is a labelled
	 * box; beyond, a small square (its name in its tooltip and label), and
	 * a layer taller than a screen wraps into columns, so 1 000 steps draw
	 * in a few hundred DOM nodes' time and fit a scrolled box. Each step
	 * is a link to its job. */
	function dagSvg(steps) {
		var g = dagLayers(steps), big = steps.length > 150;
		var W = big ? 14 : 150, H = big ? 14 : 30, VGAP = big ? 6 : 12, SUBGAP = big ? 6 : 16;
		var LGAP = big ? 48 : 56, ROWS = big ? 40 : 25, PAD = 8;
		var pos = [], x = PAD, height = 0;
		g.layers.forEach(function (list) {
			var cols = Math.ceil(list.length / ROWS), rows = Math.min(list.length, ROWS);
			height = Math.max(height, rows * (H + VGAP) - VGAP);
			list.forEach(function (i, k) {
				pos[i] = {x: x + Math.floor(k / ROWS) * (W + SUBGAP), row: k % ROWS, rows: rows};
			});
			x += cols * (W + SUBGAP) - SUBGAP + LGAP;
		});
		var width = x - LGAP + PAD;
		height += 2 * PAD;
		pos.forEach(function (p) {
			var top = (height - (p.rows * (H + VGAP) - VGAP)) / 2;
			p.y = top + p.row * (H + VGAP);
		});
		var counts = {};
		steps.forEach(function (s) { counts[s.status] = (counts[s.status] || 0) + 1; });
		var root = svg("svg", {id: "dag", class: "dag" + (big ? " big" : ""), width: width, height: height,
			viewBox: "0 0 " + width + " " + height, role: "group",
			"aria-label": "Workflow graph: " + steps.length + " steps, " + JOB_STATES.filter(function (s) {
				return counts[s];
			}).map(function (s) { return counts[s] + " " + s; }).join(", ")});
		/* Edges under the nodes; past 3 000 of them, as one path. */
		var edges = [];
		g.parents.forEach(function (ps, i) {
			ps.forEach(function (p) {
				var a = pos[p], b = pos[i], x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
				var dx = Math.max(20, (x2 - x1) / 2);
				edges.push({from: p, to: i, d: "M" + x1 + " " + y1 + "C" + (x1 + dx) + " " + y1 + " " +
					(x2 - dx) + " " + y2 + " " + x2 + " " + y2});
			});
		});
		var eg = svg("g", {class: "edges", "aria-hidden": "true"});
		if (edges.length > 3000) eg.appendChild(svg("path", {class: "edge", d: edges.map(function (e) { return e.d; }).join("")}));
		else edges.forEach(function (e) {
			eg.appendChild(svg("path", {class: "edge", d: e.d, "data-from": steps[e.from].key, "data-to": steps[e.to].key}));
		});
		root.appendChild(eg);
		steps.forEach(function (s, i) {
			var p = pos[i];
			var label = "Step " + s.key + ", job " + s.id + ", " + s.status +
				(s.status === "running" && s.progress !== null && s.progress !== undefined ? ", " + s.progress + " %" : "");
			var node = svg("a", {href: "#/jobs/" + s.id, class: "step st-" + s.status, "data-key": s.key,
				"data-job": s.id, "data-status": s.status, "aria-label": label},
				svg("title", null, label + (s.lastError ? ": " + short(s.lastError, 200) : "")),
				svg("rect", {x: p.x, y: p.y, width: W, height: H, rx: big ? 2 : 4}));
			if (!big) node.appendChild(svg("text", {x: p.x + 8, y: p.y + H / 2 + 4}, short(s.key, 20)));
			if (!big && s.status === "running" && s.progress !== null && s.progress !== undefined)
				node.appendChild(svg("rect", {class: "bar", x: p.x + 2, y: p.y + H - 5,
					width: Math.max(1, (W - 4) * s.progress / 100), height: 3}));
			root.appendChild(node);
		});
		return root;
	}

	function cancelWorkflow(w) {
		return confirmAction("Cancel workflow #" + w.id + "?",
			"The unfinished steps of " + w.name + " are cancelled: waiting and pending ones will not run, running ones are stopped now.",
			"Cancel workflow").then(function (ok) {
			if (ok) return act(api("POST", "/api/workflows/" + w.id + "/cancel"), function (r) {
				return "Workflow #" + w.id + ": " + r.cancelled + (r.cancelled === 1 ? " step" : " steps") + " cancelled.";
			});
		});
	}

	function workflowView(id) {
		var view = $("view");
		clear(view);
		var body = el("div", {id: "workflow-body"});
		var drawn = null, dag = null; /* the graph last drawn, and its answer: an unchanged one is kept */
		view.appendChild(el("p", null, el("a", {href: "#/workflows"}, "← Workflows")));
		view.appendChild(el("h1", null, "Workflow #" + id));
		view.appendChild(body);
		return function update(gen) {
			return get("/api/workflows/" + encodeURIComponent(id)).then(function (w) {
				if (gen !== state.generation) return;
				var text = JSON.stringify(w.steps);
				if (text !== drawn) dag = w.steps.length ? dagSvg(w.steps) : el("p", {class: "empty"}, "No steps.");
				drawn = text;
				var counts = {};
				w.steps.forEach(function (s) { counts[s.status] = (counts[s.status] || 0) + 1; });
				var wrap = $("dag-wrap"), left = wrap ? wrap.scrollLeft : 0, top = wrap ? wrap.scrollTop : 0;
				var stepsTable = table("Steps", ["Step", "Job", "Type", "Status", "Attempts", "Depends on", "Finished", "Last error"],
					w.steps.map(function (s) {
						return el("tr", {"data-key": s.key, "data-job": s.id},
							el("td", null, el("code", null, s.key)), el("td", null, jobLink(s.id)), el("td", null, s.type),
							statusCell(s), el("td", {class: "num"}, s.attempts),
							el("td", null, (s.dependsOn || []).join(", ") || "–",
								s.runWhen === "always" ? el("span", {class: "muted"}, " (always)") : null),
							el("td", null, when(s.finishedAt)),
							el("td", {class: "err"}, short(s.lastError, 160)));
					}), "No steps.");
				keepFocus(function () {
					replace(body, el("div", {class: "stack"},
						el("section", {class: "panel", "aria-labelledby": "wf-detail"},
							el("div", {class: "panel-head"}, el("h2", {id: "wf-detail"}, w.name),
								el("div", {class: "actions"},
									el("a", {href: "#/jobs?workflow=" + w.id}, "Its jobs in the job list"),
									w.status === "running" ? el("button", {type: "button", needs: "operator", class: "danger", id: "wf-cancel",
										onclick: function () { cancelWorkflow(w); }}, "Cancel workflow") : null)),
							el("dl", {class: "kv"},
								el("dt", null, "Status"), el("dd", {id: "wf-status"}, stateTag(w.status)),
								el("dt", null, "Steps"), el("dd", {id: "wf-counts"}, fmtInt(w.steps.length) + ": ", countsText(counts)),
								el("dt", null, "Created"), el("dd", null, when(w.createdAt), w.createdBy ? " by " + w.createdBy : null))),
						el("section", {class: "panel", "aria-labelledby": "wf-graph"},
							el("div", {class: "panel-head"}, el("h2", {id: "wf-graph"}, "Graph"),
								el("div", {class: "legend"}, JOB_STATES.map(function (s) { return el("span", {class: "st-" + s}, s); }))),
							el("div", {class: "dag-wrap", id: "dag-wrap", tabindex: 0, role: "region", "aria-label": "Workflow graph, scrollable"},
								dag)),
						el("section", {class: "panel", "aria-labelledby": "wf-steps"}, el("h2", {id: "wf-steps"}, "Steps"), stepsTable)));
				});
				wrap = $("dag-wrap");
				wrap.scrollLeft = left;
				wrap.scrollTop = top;
			}, function (e) {
				if (e.status === 404 || e.status === 400) {
					if (gen === state.generation) replace(body, el("p", {class: "error"}, e.message));
				} else throw e;
			});
		};
	}

	/* ---------------------------------------------------------- schedules */

	function schedulesView(query) {
		var view = $("view");
		clear(view);
		var after = new URLSearchParams(query).get("after") || "";
		var body = el("div", {id: "schedules-body"});
		view.appendChild(el("h1", null, "Schedules"));
		view.appendChild(el("section", {class: "panel"}, body));
		return function update(gen) {
			return get("/api/schedules?limit=100" + (after ? "&after=" + encodeURIComponent(after) : "")).then(function (r) {
				if (gen !== state.generation) return;
				renderSchedules(body, r.schedules, false);
				append(body, el("nav", {class: "pager", "aria-label": "Pages"},
					after ? el("a", {href: "#/schedules"}, "First page") : null,
					r.next ? el("a", {href: "#/schedules?after=" + encodeURIComponent(r.next)}, "Next page") : null));
			});
		};
	}

	/* ------------------------------------------------------------- alerts */

	function alertsView(query) {
		var view = $("view");
		clear(view);
		var after = new URLSearchParams(query).get("after") || "";
		var body = el("div", {id: "alerts-body"});
		view.appendChild(el("h1", null, "Alerts"));
		view.appendChild(el("section", {class: "panel"}, body));
		return function update(gen) {
			return get("/api/alerts?limit=50" + (after ? "&after=" + encodeURIComponent(after) : "")).then(function (r) {
				if (gen !== state.generation) return;
				renderAlerts(body, r.alerts, false);
				append(body, el("nav", {class: "pager", "aria-label": "Pages"},
					after ? el("a", {href: "#/alerts"}, "Newest") : null,
					r.next ? el("a", {href: "#/alerts?after=" + r.next}, "Older") : null));
			});
		};
	}

	/* -------------------------------------------------------------- audit */

	function auditView(query) {
		var view = $("view");
		clear(view);
		var params = new URLSearchParams(query);
		var after = params.get("after") || "", token = params.get("token") || "";
		var input = el("input", {id: "audit-token", name: "token", value: token, maxlength: 64, spellcheck: "false"});
		var form = el("form", {class: "filters", role: "search"},
			el("label", {for: "audit-token"}, "Token name", input), el("button", {type: "submit"}, "Filter"));
		form.addEventListener("submit", function (ev) {
			ev.preventDefault();
			var t = input.value.trim();
			location.hash = "#/audit" + (t ? "?token=" + encodeURIComponent(t) : "");
		});
		var body = el("div", {id: "audit-body"});
		view.appendChild(el("h1", null, "Audit trail"));
		view.appendChild(el("p", {class: "muted"}, "Every change made through the API, by the name of the token that made it, refused or not."));
		view.appendChild(form);
		view.appendChild(el("section", {class: "panel"}, body));
		var q = "limit=50" + (token ? "&token=" + encodeURIComponent(token) : "") + (after ? "&after=" + encodeURIComponent(after) : "");
		var self = "#/audit?" + (token ? "token=" + encodeURIComponent(token) + "&" : "");
		return function update(gen) {
			return get("/api/audit?" + q).then(function (r) {
				if (gen !== state.generation) return;
				replace(body, table("Audit trail", ["When", "Token", "Request", "Target", "Status"],
					r.entries.map(function (a) {
						return el("tr", {"data-audit": a.id},
							el("td", null, when(a.at)),
							el("td", null, a.token),
							el("td", null, el("code", null, a.method + " " + a.path)),
							el("td", null, a.target || "–"),
							el("td", {class: "num" + (a.status >= 400 ? " err" : "")}, String(a.status)));
					}), "No changes recorded."));
				append(body, el("nav", {class: "pager", "aria-label": "Pages"},
					after ? el("a", {href: self.replace(/[?&]$/, "")}, "Newest") : null,
					r.next ? el("a", {href: self + "after=" + r.next}, "Older") : null));
			});
		};
	}

	/* ------------------------------------------------------ routing, loop */

	function route() {
		var hash = location.hash.replace(/^#/, "") || "/";
		var q = hash.indexOf("?");
		var path = q < 0 ? hash : hash.slice(0, q), query = q < 0 ? "" : hash.slice(q + 1);
		var m, name;
		state.generation++;
		if (path === "/jobs") { state.view = jobsView(query); name = "jobs"; }
		else if ((m = /^\/jobs\/(\d+)$/.exec(path))) { state.view = jobView(m[1]); name = "jobs"; }
		else if (path === "/workflows") { state.view = workflowsView(query); name = "workflows"; }
		else if ((m = /^\/workflows\/(\d+)$/.exec(path))) { state.view = workflowView(m[1]); name = "workflows"; }
		else if (path === "/schedules") { state.view = schedulesView(query); name = "schedules"; }
		else if (path === "/alerts") { state.view = alertsView(query); name = "alerts"; }
		else if (path === "/audit" && can("admin")) { state.view = auditView(query); name = "audit"; }
		else { state.view = overview(); name = "overview"; }
		Array.prototype.forEach.call(document.querySelectorAll("nav a[data-view]"), function (a) {
			if (a.getAttribute("data-view") === name) a.setAttribute("aria-current", "page");
			else a.removeAttribute("aria-current");
		});
		refresh();
	}

	function refresh() {
		clearTimeout(state.timer);
		if (!state.token || !state.view) return;
		var gen = state.generation;
		state.view(gen).then(function () {
			if (gen !== state.generation) return;
			banner("");
			$("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
			document.body.setAttribute("data-loaded", String(gen));
		}, function (e) {
			if (e.status === 401) return;
			banner("Cannot reach jobvisor: " + (e.message || e) + ". Retrying…");
		}).then(function () {
			if (gen === state.generation) state.timer = setTimeout(tick, REFRESH_MS);
		});
	}

	function tick() {
		if (document.hidden) { state.timer = setTimeout(tick, REFRESH_MS); return; }
		refresh();
	}

	/* Who the token is: the header shows its name and role, and views are
	 * drawn for that role. */
	function whoami() {
		return api("GET", "/api/whoami").then(function (w) {
			state.who = w;
			$("who").textContent = w.name + " (" + w.role + ")";
			$("nav-audit").hidden = w.role !== "admin";
			return w;
		});
	}

	function showApp(signedIn) {
		$("login").hidden = signedIn;
		$("view").hidden = !signedIn;
		$("nav").hidden = !signedIn;
		$("logout").hidden = !signedIn;
		$("who").hidden = !signedIn;
	}

	function signOut(why) {
		sessionStorage.removeItem(TOKEN_KEY);
		state.token = "";
		state.who = null;
		state.view = null;
		clearTimeout(state.timer);
		clear($("view"));
		$("updated").textContent = "";
		showApp(false);
		$("login-error").textContent = why || "";
		$("token").focus();
	}

	function signIn(ev) {
		ev.preventDefault();
		var t = $("token").value.trim();
		if (!t) return;
		state.token = t;
		/* Check the token on a cheap route before keeping it: who it is. */
		whoami().then(function () {
			sessionStorage.setItem(TOKEN_KEY, t);
			$("token").value = "";
			$("login-error").textContent = "";
			showApp(true);
			route();
			$("main").focus();
		}, function (e) {
			if (e.status !== 401) $("login-error").textContent = "Cannot sign in: " + e.message;
		});
	}

	document.addEventListener("DOMContentLoaded", function () {
		$("login-form").addEventListener("submit", signIn);
		$("logout").addEventListener("click", function () { signOut("Signed out."); });
		window.addEventListener("hashchange", function () { if (state.token) route(); });
		document.addEventListener("visibilitychange", function () { if (!document.hidden && state.token) refresh(); });
		if (state.token) {
			showApp(true);
			whoami().then(route, function (e) {
				if (e.status !== 401) banner("Cannot reach jobvisor: " + (e.message || e) + ".");
			});
		} else { showApp(false); $("token").focus(); }
	});
})();
