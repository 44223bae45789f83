"""Draft-4 verdicts from a validator written by others (python-jsonschema), for
tests/tests/kong_schema.rs.

stdin:  {"schema": <config_schema>, "instances": [<config>, ...]}
stdout: {"schema_ok": true|false, "schema_error": str|null,
         "verdicts": [{"valid": bool, "errors": [str, ...]}, ...]}
"""

import json
import sys

import jsonschema


def main() -> int:
    doc = json.load(sys.stdin)
    schema = doc["schema"]
    try:
        # The schema itself must be valid against the Draft-4 meta-schema (Kong checks this
        # when it loads <name>.meta.json).
        jsonschema.Draft4Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        json.dump({"schema_ok": False, "schema_error": str(e), "verdicts": []}, sys.stdout)
        return 0
    validator = jsonschema.Draft4Validator(schema)
    verdicts = []
    for instance in doc["instances"]:
        errors = [
            "/".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in validator.iter_errors(instance)
        ]
        verdicts.append({"valid": not errors, "errors": errors[:3]})
    json.dump({"schema_ok": True, "schema_error": None, "verdicts": verdicts}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
