"""Renders, lints and validates Kubernetes objects for tests/tests/kubernetes.rs.

Reads one JSON request on stdin and writes one JSON answer on stdout; the Rust test makes
every assertion. Helm runs through helm-python-sdk (Helm's Go SDK, no cluster), Kubernetes'
own schemas through kubernetes-validate (strict: unknown fields are errors), and custom
resources against the schemas in tests/fixtures/k8s-crds/.

Request:
  {"chart": dir, "crd_schemas": dir, "kube_versions": [...],
   "releases": [{"name", "release", "namespace", "values_files": [...], "values": {...}}],
   "manifests": [{"name", "path" | "objects", "kube_versions"?: [...]}]}
Answer:
  {"releases": [{"name", "schema_error", "render_error", "lint": [...], "objects": [...],
                 "validation": [...]}],
   "manifests": [{"name", "objects", "validation": [...]}]}
"""

import copy
import json
import os
import sys

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml


def merge(base, override):
    """Helm's coalescing of values files: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def crd_schema(crd_dir, obj):
    """The fixture schema for a custom resource, or None for Kubernetes' own kinds."""
    api_version = obj.get("apiVersion", "")
    if "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    if "." not in group or group.endswith(".k8s.io") and not group.startswith("gateway.networking"):
        return None
    path = os.path.join(crd_dir, f"{obj.get('kind', '').lower()}.{group}-{version}.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no fixture schema {path} for {api_version} {obj.get('kind')}")
    with open(path) as f:
        return json.load(f)


def validate(obj, versions, crd_dir):
    results = []
    label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    for version in versions:
        error = None
        try:
            schema = crd_schema(crd_dir, obj)
            if schema is None:
                kubernetes_validate.validate(obj, version, strict=True)
            else:
                jsonschema.Draft202012Validator(schema).validate(obj)
        except kubernetes_validate.ValidationError as e:
            error = f"{'.'.join(str(p) for p in e.path)}: {e.message}"
        except jsonschema.ValidationError as e:
            error = f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        except Exception as e:  # a missing schema is a failure, never a pass
            error = f"{type(e).__name__}: {e}"
        results.append({"object": label, "version": version, "error": error})
    return results


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def release(request, case):
    values = {}
    for path in case.get("values_files", []):
        with open(path) as f:
            values = merge(values, yaml.safe_load(f) or {})
    values = merge(values, case.get("values", {}))
    answer = {"name": case["name"], "schema_error": None, "render_error": None,
              "lint": [], "objects": [], "validation": []}
    with helm.Chart.load(request["chart"]) as chart:
        try:
            chart.validate_schema(values)
        except helm.HelmError as e:
            answer["schema_error"] = str(e)
        try:
            rendered = chart.render(values, name=case["release"], namespace=case["namespace"],
                                    is_install=True)
        except helm.HelmError as e:
            answer["render_error"] = str(e)
            return answer
    report = helm.lint(request["chart"], values, strict=True, namespace=case["namespace"])
    answer["lint"] = report.get("messages", []) + [
        {"severity": 3, "path": "", "error": e} for e in report.get("errors", []) or []]
    for name in sorted(rendered):
        if name.endswith("NOTES.txt"):
            continue
        answer["objects"].extend(documents(rendered[name]))
    for obj in answer["objects"]:
        answer["validation"].extend(validate(obj, request["kube_versions"], request["crd_schemas"]))
    return answer


def manifest(request, case):
    if "path" in case:
        with open(case["path"]) as f:
            objects = documents(f.read())
    else:
        objects = case["objects"]
    versions = case.get("kube_versions", request["kube_versions"])
    validation = []
    for obj in objects:
        validation.extend(validate(obj, versions, request["crd_schemas"]))
    return {"name": case["name"], "objects": objects, "validation": validation}


def main():
    request = json.load(sys.stdin)
    answer = {
        "releases": [release(request, c) for c in request.get("releases", [])],
        "manifests": [manifest(request, c) for c in request.get("manifests", [])],
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
