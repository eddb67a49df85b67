// validate.js FILE...: validates each HAR file with har-validator (as HTTP
// Toolkit does on import) and prints "ok FILE N entries", or the schema
// errors and exits 1.
'use strict';
const fs = require('fs');
const validator = require('har-validator');

async function main() {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    let har;
    try {
      har = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      console.log(`FAIL ${file}: not JSON: ${err.message}`);
      failed = true;
      continue;
    }
    try {
      await validator.har(har);
      console.log(`ok ${file} ${har.log.entries.length} entries`);
    } catch (err) {
      failed = true;
      console.log(`FAIL ${file}: ${err.message}`);
      for (const e of err.errors || []) {
        console.log(`  ${e.dataPath || e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
      }
    }
  }
  process.exit(failed ? 1 : 0);
}
main();
