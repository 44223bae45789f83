"""Draft-4 verdicts from a validator written by others (python-jsonschema), for
tests/tests/kong_schema.rs.

stdin:  {"schema": <config_schema>, "instances": [<config>, ...]}
stdout: {"schema_ok": true|false, "schema_error": str|null,
         "verdicts": [{"valid": bool, "valid_bytes": bool, "errors": [str, ...]}, ...]}

`valid` reads `pattern` as Python `str` regexes (as ECMA 262 would, by character);
`valid_bytes` reads them over UTF-8 bytes, as Kong's validator does (lua-resty-ljsonschema
calls ngx.re.find(subject, pattern, "jo"): PCRE without its UTF-8 flag).
"""

import json
import re
import sys

import jsonschema
from jsonschema import validators


def byte_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string"):
        subject = instance.encode("utf-8", "surrogatepass")
        if not re.search(pattern.encode("utf-8"), subject):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r} (bytes)")


BytesDraft4Validator = validators.extend(jsonschema.Draft4Validator, {"pattern": byte_pattern})


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
    bytes_validator = BytesDraft4Validator(schema)
    verdicts = []
    for instance in doc["instances"]:
        errors = [
            "/".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in validator.iter_errors(instance)
        ]
        valid_bytes = bytes_validator.is_valid(instance)
        verdicts.append({"valid": not errors, "valid_bytes": valid_bytes, "errors": errors[:3]})
    json.dump({"schema_ok": True, "schema_error": None, "verdicts": verdicts}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
