#!/usr/bin/env python3
"""docs/openapi.yaml is valid OpenAPI 3 and docs/openapi.json (what the server embeds) matches it.

Exit 77 (ctest: skipped) when the validator library is not installed; 1 on any mismatch.
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parents[2]
try:
    import yaml
    from openapi_spec_validator import validate
except ImportError as e:  # pragma: no cover - environment without the validator
    print(f"skipped: {e}")
    sys.exit(77)

doc = yaml.safe_load((root / "docs/openapi.yaml").read_text(encoding="utf-8"))
embedded = json.loads((root / "docs/openapi.json").read_text(encoding="utf-8"))
validate(doc)
if doc != embedded:
    print("docs/openapi.json is stale: run http/embed_openapi.py")
    sys.exit(1)
print("openapi: valid, json copy in sync,", len(doc["paths"]), "paths")
