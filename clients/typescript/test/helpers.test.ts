// helpers.test.ts -- contrib/test_helpers.sql (schema jobvisor_test), as an
// application's own tests would use it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type pg from "pg";
import { enqueue, enqueueMany } from "../src/index.js";
import { connect } from "./env.js";

let db: pg.Client;
before(async () => {
	db = await connect();
});
after(async () => {
	await db.end();
});

test("enqueued() lists this transaction's jobs, savepoints included, and no one else's", async () => {
	// a committed job of another transaction, of the same type
	const other = await enqueue(db, { type: "noop", payload: { data: "other" }, scheduledAt: new Date(Date.now() + 3600_000) });
	await db.query("BEGIN");
	try {
		let r = await db.query("SELECT * FROM jobvisor_test.enqueued()");
		assert.equal(r.rowCount, 0, "nothing before the first enqueue");
		// an old job this transaction only updates is not "enqueued" by it
		await db.query("UPDATE jobvisor.jobs SET priority = priority + 1 WHERE id = $1", [other]);
		const a = await enqueue(db, { type: "email", payload: { to: "a@example.com", lang: "fr" } });
		await db.query("SAVEPOINT s1");
		const [b, c] = await enqueueMany(db, [
			{ type: "email", payload: { to: "b@example.com" } },
			{ type: "sms", payload: { to: "+33" } },
		]);
		r = await db.query<{ id: string }>("SELECT id FROM jobvisor_test.enqueued()");
		assert.deepEqual(r.rows.map((x: { id: string }) => Number(x.id)), [a, b, c]);

		const ids = await db.query<{ ids: string[] }>(
			"SELECT jobvisor_test.assert_enqueued('email', '{\"to\": \"a@example.com\"}') AS ids",
		);
		assert.deepEqual(ids.rows[0]?.ids.map(Number), [a]);
		await db.query("SELECT jobvisor_test.assert_enqueued('email', '{}', 2)");
		await db.query("SELECT jobvisor_test.assert_not_enqueued('push')");

		await db.query("SAVEPOINT probe");
		await assert.rejects(
			db.query("SELECT jobvisor_test.assert_enqueued('email', '{\"to\": \"c@example.com\"}')"),
			(e: unknown) => {
				const pe = e as { code?: string; message: string; detail?: string };
				assert.equal(pe.code, "P0004");
				assert.match(pe.message, /expected at least 1 job\(s\) of type 'email' with a payload containing \{"to": "c@example.com"\} enqueued in this transaction, found 0/);
				assert.equal(pe.detail, "enqueued in this transaction, by type: email 2, sms 1");
				return true;
			},
		);
		await db.query("ROLLBACK TO SAVEPOINT probe");

		await db.query("ROLLBACK TO SAVEPOINT s1");
		r = await db.query<{ id: string }>("SELECT id FROM jobvisor_test.enqueued()");
		assert.deepEqual(r.rows.map((x: { id: string }) => Number(x.id)), [a], "the rolled-back savepoint's jobs are gone");
	} finally {
		await db.query("ROLLBACK");
	}
	// over every job of the database (code under test that committed)
	await db.query("SELECT jobvisor_test.assert_enqueued('noop', '{\"data\": \"other\"}', 1, false)");
	await db.query("DELETE FROM jobvisor.jobs WHERE id = $1", [other]);
});
