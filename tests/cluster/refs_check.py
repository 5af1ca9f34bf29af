"""Every reference in the install resolves to an object the install creates: volume claims
(pvc:// URIs included, in manifests, script arguments and the docs), Secrets and ConfigMaps,
ServiceAccounts and RoleBindings, Gateway routes, in-cluster URLs, NetworkPolicy selectors and
namespaces. Each function returns one message per broken reference, naming the object and the
file it came from."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from doc_commands import DocCommand
from helm_args import option
from install_record import APP_NAMESPACE, PVC_URI, Install, Obj
from workloads import Pod, pods, selects

# What kind's own DNS carries: the one peer outside the install that policies may name.
BUILTIN_PODS = {("kube-system", "k8s-app", "kube-dns")}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _where(obj: Obj) -> str:
    name = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    return f"{obj.kind} {name} ({obj.origin}, applied at {obj.via})"


def _claims(install: Install) -> set[tuple[str, str]]:
    return {(o.namespace, o.name) for o in install.of_kind("PersistentVolumeClaim")}


def check_claims(install: Install, docs: list[DocCommand]) -> list[str]:
    claims, errors = _claims(install), []
    for pod in pods(install):
        for volume in pod.spec.get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and (pod.namespace, claim) not in claims:
                errors.append(
                    f"{pod.label}: volume {volume['name']} names PersistentVolumeClaim "
                    f"{pod.namespace}/{claim}, which the install never creates"
                )
    for obj in install.objects:
        if obj.kind == "KFPPipelineRun":
            for claim in obj.body["claims"]:
                if (obj.namespace, claim) not in claims:
                    errors.append(
                        f"{_where(obj)}: its steps mount PersistentVolumeClaim "
                        f"{obj.namespace}/{claim}, which the install never creates"
                    )
        for text in _strings(obj.body):
            for match in PVC_URI.finditer(text):
                if (obj.namespace, match.group(1)) not in claims:
                    errors.append(
                        f"{_where(obj)}: {match.group(0)}… names PersistentVolumeClaim "
                        f"{obj.namespace}/{match.group(1)}, which the install never creates"
                    )
    for call in install.calls:
        namespace = option(call.argv, "-n", "--namespace") or APP_NAMESPACE
        namespace = next(
            (a.split("=", 1)[1] for a in call.argv if a.startswith("namespace=")), namespace
        )
        for arg in call.argv:
            for match in PVC_URI.finditer(arg):
                if (namespace, match.group(1)) not in claims:
                    errors.append(
                        f"{call.site}: `{call.tool} {call.argv[0]}` passes {match.group(0)}…, but "
                        "the install creates no PersistentVolumeClaim "
                        f"{namespace}/{match.group(1)}"
                    )
    for command in docs:
        namespace = command.option("-n", "--namespace") or APP_NAMESPACE
        for word in command.words:
            for match in PVC_URI.finditer(word):
                if (namespace, match.group(1)) not in claims:
                    errors.append(
                        f"{command.where}: the documented `{' '.join(command.words[:2])}` passes "
                        f"{match.group(0)}…, but the install creates no PersistentVolumeClaim "
                        f"{namespace}/{match.group(1)}"
                    )
    return errors


def _secret_keys(install: Install) -> dict[tuple[str, str], set[str]]:
    return {
        (o.namespace, o.name): {*(o.body.get("data") or {}), *(o.body.get("stringData") or {})}
            for o in install.of_kind("Secret")}  # fmt: skip


def _pod_refs(pod: Pod) -> Iterator[tuple[str, str, str, str]]:
    """(kind, name, key or "", what) of every Secret and ConfigMap the pod reads."""
    for volume in pod.spec.get("volumes") or []:
        if "secret" in volume:
            for item in volume["secret"].get("items") or [{}]:
                yield (
                    "Secret",
                    volume["secret"].get("secretName", ""),
                    item.get("key", ""),
                    f"volume {volume['name']}",
                )
        if "configMap" in volume:
            for item in volume["configMap"].get("items") or [{}]:
                yield (
                    "ConfigMap",
                    volume["configMap"].get("name", ""),
                    item.get("key", ""),
                    f"volume {volume['name']}",
                )
        for source in (volume.get("projected") or {}).get("sources") or []:
            for kind, field in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if field in source:
                    yield kind, source[field].get("name", ""), "", f"volume {volume['name']}"
    for container in pod.containers():
        for env in container.get("env") or []:
            ref = env.get("valueFrom") or {}
            for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if field in ref and not ref[field].get("optional"):
                    yield (
                        kind,
                        ref[field]["name"],
                        ref[field].get("key", ""),
                        f"env {env['name']} of {container['name']}",
                    )
        for source in container.get("envFrom") or []:
            for kind, field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                if field in source and not source[field].get("optional"):
                    yield kind, source[field]["name"], "", f"envFrom of {container['name']}"
    for secret in pod.spec.get("imagePullSecrets") or []:
        yield "Secret", secret["name"], "", "imagePullSecrets"


def check_secrets_and_configmaps(install: Install) -> list[str]:
    secrets = _secret_keys(install)
    configmaps = {
        (o.namespace, o.name): set(o.body.get("data") or {}) for o in install.of_kind("ConfigMap")
    }
    errors = []
    for pod in pods(install):
        for kind, name, key, what in _pod_refs(pod):
            known = (secrets if kind == "Secret" else configmaps).get((pod.namespace, name))
            if known is None:
                errors.append(
                    f"{pod.label}: {what} reads {kind} {pod.namespace}/{name}, which the install "
                    "never creates"
                )
            elif key and known and key not in known:
                errors.append(
                    f"{pod.label}: {what} reads key {key} of {kind} {pod.namespace}/{name}, which "
                    f"has only {sorted(known)}"
                )
    return errors


def check_service_accounts(install: Install) -> list[str]:
    accounts = {(o.namespace, o.name) for o in install.of_kind("ServiceAccount")}
    errors = []
    for pod in pods(install):
        name = pod.spec.get("serviceAccountName")
        if name and name != "default" and (pod.namespace, name) not in accounts:
            errors.append(
                f"{pod.label}: runs as ServiceAccount {pod.namespace}/{name}, which the install "
                "never creates"
            )
    for binding in install.of_kind("RoleBinding", "ClusterRoleBinding"):
        for subject in binding.body.get("subjects") or []:
            ns = subject.get("namespace") or binding.namespace
            if subject.get("kind") == "ServiceAccount" and (ns, subject["name"]) not in accounts:
                errors.append(
                    f"{_where(binding)}: subject ServiceAccount {ns}/{subject['name']} is never "
                    "created"
                )
        role = binding.body.get("roleRef") or {}
        if role and not install.find(role.get("kind", ""), binding.namespace, role.get("name", "")):
            errors.append(
                f"{_where(binding)}: roleRef {role.get('kind')} {role.get('name')} is never created"
            )
    return errors


def _service_port(install: Install, namespace: str, name: str, port: int | str | None) -> str:
    """ "" when Service namespace/name exists with that port, else what is wrong."""
    service = install.find("Service", namespace, name)
    if service is None:
        return f"Service {namespace}/{name}, which the install never creates"
    ports = (service.body.get("spec") or {}).get("ports") or []
    if port is not None and not any(p.get("port") == port or p.get("name") == port for p in ports):
        have = [p.get("port") for p in ports]
        return (
            f"port {port} of Service {namespace}/{name} ({service.origin}), which has ports {have}"
        )
    return ""


def check_routes(install: Install) -> list[str]:
    errors = []
    for route in install.of_kind("HTTPRoute", "GRPCRoute"):
        for rule in (route.body.get("spec") or {}).get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if ref.get("kind", "Service") == "Service":
                    problem = _service_port(
                        install,
                        ref.get("namespace") or route.namespace,
                        ref["name"],
                        ref.get("port"),
                    )
                    if problem:
                        errors.append(f"{_where(route)}: backendRef names {problem}")
        for parent in (route.body.get("spec") or {}).get("parentRefs") or []:
            if not install.find(
                "Gateway", parent.get("namespace") or route.namespace, parent["name"]
            ):
                errors.append(
                    f"{_where(route)}: parentRef Gateway {parent['name']} is never created"
                )
    for gateway in install.of_kind("Gateway"):
        name = (gateway.body.get("spec") or {}).get("gatewayClassName", "")
        if not install.find("GatewayClass", "", name):
            errors.append(f"{_where(gateway)}: GatewayClass {name} is never created")
    for gateway_class in install.of_kind("GatewayClass"):
        ref = (gateway_class.body.get("spec") or {}).get("parametersRef")
        if ref and not install.find(ref["kind"], ref.get("namespace", ""), ref["name"]):
            errors.append(
                f"{_where(gateway_class)}: parametersRef {ref['kind']} "
                f"{ref.get('namespace', '')}/{ref['name']} is never created"
            )
    return errors


# host[.namespace[.svc[.cluster.local]]]:port, after a scheme or a user@.
SERVICE_URL = re.compile(
    r"(?:^|//|@|,)(?P<name>[a-z][-a-z0-9]*)(?:\.(?P<ns>[a-z][-a-z0-9]*)(?:\.svc(?:\.cluster\.local)?)?)?:(?P<port>\d+)"
)


def _urls(install: Install) -> Iterator[tuple[str, str, str]]:
    """(namespace, text, where) of env values, ConfigMap and Secret values: where connection
    URLs live."""
    for pod in pods(install):
        for container in pod.containers():
            for env in container.get("env") or []:
                if isinstance(env.get("value"), str):
                    yield pod.namespace, env["value"], f"{pod.label}: env {env['name']}"
    for config in install.of_kind("ConfigMap"):
        for name, value in (config.body.get("data") or {}).items():
            yield config.namespace, str(value), f"{_where(config)}: key {name}"
    for secret in install.of_kind("Secret"):
        for name, value in (secret.body.get("stringData") or {}).items():
            yield secret.namespace, str(value), f"{_where(secret)}: key {name}"


def check_service_urls(install: Install) -> list[str]:
    errors = []
    for namespace, text, where in _urls(install):
        for match in SERVICE_URL.finditer(text):
            if match.group("name") in ("localhost",):
                continue
            problem = _service_port(
                install,
                match.group("ns") or namespace,
                match.group("name"),
                int(match.group("port")),
            )
            if problem:
                errors.append(f"{where}: {match.group(0).lstrip('/@,')} needs {problem}")
    return errors


def _peer_pods(install: Install, namespaces: list[str], selector: dict[str, Any]) -> bool:
    if any(
        (ns, k, v) in BUILTIN_PODS
        for ns in namespaces
        for k, v in (selector.get("matchLabels") or {}).items()
    ):
        return True
    return any(
        pod.namespace in namespaces and selects(selector, pod.labels) for pod in pods(install)
    )


def check_network_policies(install: Install) -> list[str]:
    errors = []
    namespaces = install.namespaces()
    for policy in install.of_kind("NetworkPolicy"):
        spec = policy.body.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if selector and not _peer_pods(install, [policy.namespace], selector):
            errors.append(
                f"{_where(policy)}: podSelector {selector} matches no pod the install runs"
            )
        for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                ns_selector = peer.get("namespaceSelector")
                peer_ns = [policy.namespace]
                if ns_selector is not None:
                    name = (ns_selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
                    if name is None:
                        continue  # any namespace: nothing to resolve
                    if name not in namespaces:
                        errors.append(
                            f"{_where(policy)}: namespaceSelector names namespace {name}, which "
                            "the install never creates"
                        )
                        continue
                    peer_ns = [name]
                if peer.get("podSelector") and not _peer_pods(
                    install, peer_ns, peer["podSelector"]
                ):
                    errors.append(
                        f"{_where(policy)}: peer podSelector {peer['podSelector']} in "
                        f"{peer_ns[0]} matches no pod the install runs"
                    )
    return errors


def check_namespaces(install: Install) -> list[str]:
    """Every object goes into a namespace that exists by then (created earlier or in the same
    command, or one kind creates)."""
    created: dict[str, int] = {
        ns: -1 for ns in install.namespaces() - {o.name for o in install.of_kind("Namespace")}
    }
    for obj in install.of_kind("Namespace"):
        created[obj.name] = min(created.get(obj.name, obj.seq), obj.seq)
    errors = []
    for obj in install.objects:
        if obj.namespace and obj.kind != "KFPPipelineRun":
            if obj.namespace not in created:
                errors.append(f"{_where(obj)}: namespace {obj.namespace} is never created")
            elif created[obj.namespace] > obj.seq:
                errors.append(f"{_where(obj)}: applied before namespace {obj.namespace} is created")
    return errors


def check_doc_references(install: Install, docs: list[DocCommand]) -> list[str]:
    """The objects and releases the documented commands name exist after the install."""
    errors = []
    releases = {
        c.event["release"] for c in install.calls if c.tool == "helm" and c.event.get("release")
    }
    for command in docs:
        # A command without -n is read as meant for the application's namespace.
        words, namespace = command.words, command.option("-n", "--namespace") or APP_NAMESPACE
        if words[:2] == ["kubectl", "port-forward"]:
            target = next((w for w in words[2:] if w.startswith(("svc/", "service/"))), "")
            ports = [w for w in words[2:] if re.fullmatch(r"\d*:\d+|\d+", w)]
            if target and ports:
                problem = _service_port(
                    install, namespace, target.split("/", 1)[1], int(ports[0].split(":")[-1])
                )
                if problem:
                    errors.append(f"{command.where}: the documented port-forward needs {problem}")
        for word in words:
            if word.startswith("--from=cronjob/") and not install.find(
                "CronJob", namespace, word.split("/", 1)[1]
            ):
                errors.append(
                    f"{command.where}: the documented command names CronJob "
                    f"{namespace}/{word.split('/', 1)[1]}, which the install never creates"
                )
        if words[:3] in (["kubectl", "get", "isvc"], ["kubectl", "get", "inferenceservice"]):
            names = [
                w
                for w in words[3:]
                if not w.startswith("-") and w != namespace and not w.startswith("jsonpath")
            ]
            if names and not install.find("InferenceService", namespace, names[0]):
                errors.append(
                    f"{command.where}: the documented command names InferenceService "
                    f"{namespace}/{names[0]}, which the install never creates"
                )
        if (
            words[:2] == ["helm", "upgrade"]
            and "--install" not in words
            and len(words) > 2
            and not words[2].startswith("-")
            and words[2] not in releases
        ):
            errors.append(
                f"{command.where}: the documented `helm upgrade {words[2]}` upgrades a "
                f"release the install never creates (it installs {sorted(releases)})"
            )
    return errors


# Text the install's users read or run: any pvc:// URI there must name a claim that exists.
MENTION_GLOBS = [
    "charts/**/*",
    "k8s/**/*",
    "scripts/*.sh",
    "docs/*.md",
    ".github/workflows/*.yml",
    "Makefile",
]


def check_pvc_mentions(install: Install) -> list[str]:
    claims = {name for _, name in _claims(install)}
    errors = []
    for pattern in MENTION_GLOBS:
        for path in sorted(install.root.glob(pattern)):
            if not path.is_file():
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                for match in PVC_URI.finditer(line):
                    if match.group(1) not in claims:
                        errors.append(
                            f"{path.relative_to(install.root)}:{number}: {match.group(0)}… names "
                            f"PersistentVolumeClaim {match.group(1)}, which the install never "
                            f"creates (it creates {sorted(claims)})"
                        )
    return errors
