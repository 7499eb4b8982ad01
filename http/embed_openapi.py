#!/usr/bin/env python3
"""docs/openapi.yaml -> docs/openapi.json (run after editing the YAML; both are committed).

The YAML is the source people edit; the JSON copy is what the build embeds (so building needs no
Python or YAML library) and what /openapi.json serves. tests/system/openapi_check.py fails when
the two disagree or when the document is not valid OpenAPI.
"""
import json
import pathlib
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
src = root / "docs" / "openapi.yaml"
dst = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "docs" / "openapi.json"
doc = yaml.safe_load(src.read_text(encoding="utf-8"))
dst.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
