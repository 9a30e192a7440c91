#!/usr/bin/env python3
"""Validate an SBOM against the official JSON schema (draft-07; 2020-12 for SPDX 3), resolving the
CycloneDX schema's references to spdx.schema.json and jsf-0.82.schema.json from the same directory.

usage: validate_sbom.py SCHEMA_DIR spdx|spdx3|cyclonedx FILE
Prints every violation and exits 1 when there is one.
"""
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource


def main(schema_dir, kind, path):
    name = {
        "spdx": "spdx-2.3.schema.json",
        "spdx3": "spdx-3.0.1.schema.json",
        "cyclonedx": "bom-1.5.schema.json",
    }[kind]
    schema = json.load(open(os.path.join(schema_dir, name)))
    resources = []
    for f in os.listdir(schema_dir):
        if f.endswith(".json"):
            res = Resource.from_contents(json.load(open(os.path.join(schema_dir, f))))
            resources.append((f, res))
            if res.id():
                resources.append((res.id(), res))
    registry = Registry().with_resources(resources)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    doc = json.load(open(path))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:50]:
        print("/".join(str(p) for p in e.path) + ": " + e.message[:300])
    if errors:
        print(f"{len(errors)} schema violations in {path}")
        sys.exit(1)
    print(f"{path}: valid {kind}")


if __name__ == "__main__":
    main(*sys.argv[1:])
