"""Every whole-install check by name, each taking the install and the documented commands."""

from __future__ import annotations

from collections.abc import Callable

import crds_check
import images_check
import ports_check
import refs_check
import waits_check
from doc_commands import DocCommand
from install_record import Install

Check = Callable[[Install, list[DocCommand]], list[str]]

CHECKS: dict[str, Check] = {
    "claims": refs_check.check_claims,
    "pvc-mentions": lambda i, d: refs_check.check_pvc_mentions(i),
    "secrets-configmaps": lambda i, d: refs_check.check_secrets_and_configmaps(i),
    "service-accounts": lambda i, d: refs_check.check_service_accounts(i),
    "routes": lambda i, d: refs_check.check_routes(i),
    "service-urls": lambda i, d: refs_check.check_service_urls(i),
    "network-policies": lambda i, d: refs_check.check_network_policies(i),
    "namespaces": lambda i, d: refs_check.check_namespaces(i),
    "doc-references": refs_check.check_doc_references,
    "crds": lambda i, d: crds_check.check_crds(i),
    "host-ports": ports_check.check_host_ports,
    "images": lambda i, d: images_check.check_images(i),
    "waits-bounded": lambda i, d: waits_check.check_bounded(i),
    "loops-bounded": lambda i, d: waits_check.check_loops(i.root),
    "e2e-budget": lambda i, d: waits_check.check_e2e_budget(i),
}
