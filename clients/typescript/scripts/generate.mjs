// generate.mjs -- src/openapi.ts, the types of the REST API, from
// docs/openapi.yaml by openapi-typescript (a pinned devDependency).
//
//   node scripts/generate.mjs           write src/openapi.ts   (npm run generate)
//   node scripts/generate.mjs --check   exit 1 when src/openapi.ts is not what
//                                       docs/openapi.yaml gives (npm run build runs it)
// JV_OPENAPI_YAML=FILE reads FILE instead of docs/openapi.yaml (check.sh
// uses it to see that --check fails on a changed document).
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const here = fileURLToPath(new URL("..", import.meta.url));
const spec = process.env.JV_OPENAPI_YAML
	? pathToFileURL(process.env.JV_OPENAPI_YAML)
	: new URL("../../docs/openapi.yaml", pathToFileURL(here));
const out = new URL("src/openapi.ts", pathToFileURL(here));

const header =
	"// src/openapi.ts -- GENERATED from docs/openapi.yaml by `npm run generate`\n" +
	"// (openapi-typescript). Do not edit: change docs/openapi.yaml and regenerate;\n" +
	"// `npm run build` fails while this file is stale.\n\n";

const ast = await openapiTS(spec, { alphabetize: false, exportType: false });
const text = header + astToString(ast);

if (process.argv.includes("--check")) {
	let old = "";
	try {
		old = await readFile(out, "utf8");
	} catch {
		old = "";
	}
	if (old !== text) {
		console.error(
			"clients/typescript/src/openapi.ts is stale: docs/openapi.yaml changed; " +
				"run `npm run generate` in clients/typescript and commit the result",
		);
		process.exit(1);
	}
	console.log("src/openapi.ts is up to date with docs/openapi.yaml");
} else {
	await writeFile(out, text);
	console.log("wrote src/openapi.ts from docs/openapi.yaml");
}
