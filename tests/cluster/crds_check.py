"""No CustomResourceDefinition is applied from two sources or from two release channels: the
second apply would fight the first over the fields, and Gateway API's safe-upgrades policy
refuses experimental-channel CRDs over standard ones."""

from __future__ import annotations

from collections import defaultdict

from install_record import Install, Obj

CHANNEL = "gateway.networking.k8s.io/channel"


def _channel(crd: Obj) -> str:
    return str(((crd.body.get("metadata") or {}).get("annotations") or {}).get(CHANNEL, ""))


def check_crds(install: Install) -> list[str]:
    by_name: dict[str, list[Obj]] = defaultdict(list)
    for crd in install.of_kind("CustomResourceDefinition"):
        by_name[crd.name].append(crd)
    errors = []
    for name, applied in sorted(by_name.items()):
        sources = sorted({f"{c.origin} (applied at {c.via})" for c in applied})
        if len({c.origin for c in applied}) > 1:
            errors.append(
                f"CustomResourceDefinition {name} is applied from {len(sources)} sources: "
                f"{'; '.join(sources)}"
            )
        channels = sorted({_channel(c) or "none" for c in applied})
        if len(channels) > 1:
            errors.append(
                f"CustomResourceDefinition {name} is applied in {len(channels)} release channels "
                f"({', '.join(channels)}): {'; '.join(sources)}"
            )
    return errors
