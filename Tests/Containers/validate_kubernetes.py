#!/usr/bin/env python3
"""Checks deploy/kubernetes/: each resource against the Kubernetes API's schema
(kubernetes-validate, strict: an unknown or misspelt field fails), and the manifests against each
other and the image: every Deployment's pods run as the image's non-root user, probe /readyz and
/healthz on the port the services listen on, take their settings from the ConfigMap and Secret
defined here, and run one of the image's executables; every Service selects a Deployment's pods;
the autoscaler scales the converter Deployment; the kustomization lists every file.

Usage: validate_kubernetes.py [DIR]   (default deploy/kubernetes). Exits 1 naming each problem.
"""
import glob
import os
import sys

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.30.0"
EXECUTABLES = {"vmp3-auth", "vmp3-gateway", "vmp3-converter", "vmp3-notifier"}


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "deploy/kubernetes"
    problems = []
    resources = []
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    kustomization = None
    for path in files:
        with open(path) as file:
            documents = [d for d in yaml.safe_load_all(file) if d]
        for document in documents:
            if document.get("kind") == "Kustomization":
                kustomization = document
                continue
            try:
                kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{path}: {document.get('kind')} {document['metadata'].get('name')}: {error.message} at {'.'.join(map(str, error.path))}")
            resources.append((path, document))

    def named(kind):
        return {d["metadata"]["name"]: d for _, d in resources if d["kind"] == kind}

    config_maps, secrets, deployments = named("ConfigMap"), named("Secret"), named("Deployment")
    if not deployments:
        problems.append("no Deployment")
    for name, deployment in deployments.items():
        spec = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if deployment["spec"]["selector"]["matchLabels"].items() - labels.items():
            problems.append(f"{name}: its selector does not match its pods' labels")
        security = spec.get("securityContext", {})
        if not security.get("runAsNonRoot") or security.get("runAsUser") != 10001:
            problems.append(f"{name}: pods must run as non-root, as the image's user 10001")
        for container in spec["containers"]:
            where = f"{name}/{container['name']}"
            if not (container.get("command") or [None])[0] in EXECUTABLES:
                problems.append(f"{where}: runs {container.get('command')}, not one of {sorted(EXECUTABLES)}")
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                get = container.get(probe, {}).get("httpGet", {})
                port = ports.get(get.get("port"), get.get("port"))
                if get.get("path") != path or port != 8080:
                    problems.append(f"{where}: {probe} must GET {path} on 8080, not {get.get('path')} on {port}")
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                    problems.append(f"{where}: no ConfigMap {source['configMapRef']['name']}")
                if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                    problems.append(f"{where}: no Secret {source['secretRef']['name']}")
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference and reference["key"] not in secrets.get(reference["name"], {}).get("stringData", {}):
                    problems.append(f"{where}: {variable['name']} names {reference['name']}/{reference['key']}, which is not defined")
            if not container.get("resources", {}).get("requests", {}).get("cpu"):
                problems.append(f"{where}: no CPU request (the autoscaler measures against it)")

    for name, service in named("Service").items():
        selector = service["spec"]["selector"]
        if not any(selector.items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments.values()):
            problems.append(f"Service {name}: selects no Deployment's pods")
    autoscalers = named("HorizontalPodAutoscaler")
    if not any(a["spec"]["scaleTargetRef"]["name"] == "vmp3-converter" for a in autoscalers.values()):
        problems.append("no HorizontalPodAutoscaler scales vmp3-converter")
    for name, autoscaler in autoscalers.items():
        if autoscaler["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append(f"HorizontalPodAutoscaler {name}: scales a Deployment that is not here")

    listed = set((kustomization or {}).get("resources", []))
    for path in files:
        if os.path.basename(path) != "kustomization.yaml" and os.path.basename(path) not in listed:
            problems.append(f"kustomization.yaml does not list {os.path.basename(path)}")

    for problem in problems:
        print(f"validate_kubernetes: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"validate_kubernetes: {len(resources)} resources in {len(files)} files valid against Kubernetes {KUBERNETES_VERSION}, and consistent")


if __name__ == "__main__":
    main()
