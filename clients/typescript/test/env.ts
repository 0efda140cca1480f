// env.ts -- what the tests share: the database and API of the run that
// check.sh started (JV_TS_DB_URL, JV_TS_API_URL, JV_TS_TOKEN).
import pg from "pg";
import { JobvisorClient } from "../src/index.js";

function need(name: string): string {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set: run the tests through clients/typescript/check.sh BUILD_DIR`);
	return v;
}

export const dbUrl = need("JV_TS_DB_URL");
export const apiUrl = need("JV_TS_API_URL");
export const token = need("JV_TS_TOKEN");

export const api = new JobvisorClient({ baseUrl: apiUrl, token, timeoutMs: 10000 });

/** A connected pg.Client, ended by the caller. */
export async function connect(): Promise<pg.Client> {
	const c = new pg.Client({ connectionString: dbUrl });
	await c.connect();
	return c;
}

/** How many jobs have one of ids, seen from another connection (committed rows only). */
export async function countCommitted(ids: readonly number[]): Promise<number> {
	const c = await connect();
	try {
		const r = await c.query<{ n: string }>("SELECT count(*) AS n FROM jobvisor.jobs WHERE id = ANY ($1::bigint[])", [ids]);
		return Number(r.rows[0]?.n);
	} finally {
		await c.end();
	}
}
