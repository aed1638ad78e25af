// Strict CycloneDX 1.5 JSON validation with @cyclonedx/cyclonedx-library
// (an implementation independent of mcpin's). Usage:
//   MCPIN_CDX_LIB=<dir with node_modules> node validate.cjs BOM.json...
// Exits 0 when every document is valid, 1 (printing the errors) otherwise.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const libDir = process.env.MCPIN_CDX_LIB;
if (!libDir) {
  console.error('MCPIN_CDX_LIB is not set (tests/setup/25-sbom-tools.sh sets it)');
  process.exit(2);
}
const cdx = createRequire(path.join(libDir, 'package.json'))('@cyclonedx/cyclonedx-library');
const validator = new cdx.Validation.JsonStrictValidator(cdx.Spec.Version.v1dot5);

(async () => {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const errors = await validator.validate(fs.readFileSync(file, 'utf8'));
    if (errors === null) {
      console.error(`valid: ${file}`);
    } else {
      failed = true;
      console.error(`INVALID: ${file}\n${JSON.stringify(errors, null, 2)}`);
    }
  }
  process.exit(failed ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
