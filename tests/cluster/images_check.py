"""Every image a pod of this repository's manifests names is built by images.sh and loaded
into kind, or pinned in k8s/versions.env. Upstream installs (the fixtures) pull their own."""

from __future__ import annotations

from pathlib import Path

from helm_args import option
from install_record import Install
from workloads import pods


def normalise(image: str) -> str:
    """docker.io/library/redis:7 and redis:7 are one image."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if image.startswith(prefix):
            return image[len(prefix) :]
    return image


def pinned(root: Path) -> set[str]:
    images = set()
    for line in (root / "k8s" / "versions.env").read_text().splitlines():
        name, _, value = line.partition("=")
        if name.endswith("_IMAGE") and not name.startswith("#"):
            images.add(normalise(value.strip()))
    return images


def built(install: Install) -> set[str]:
    images = set()
    for call in install.calls:
        if call.tool == "docker" and call.argv[:1] == ["build"]:
            images.add(option(call.argv, "--tag", "-t"))
        if call.tool == "bentoml" and call.argv[:1] == ["containerize"]:
            images.add(option(call.argv, "--image-tag", "-t"))
    return {normalise(i) for i in images if i}


def loaded(install: Install) -> set[str]:
    images: set[str] = set()
    for call in install.calls:
        if call.tool == "kind" and call.argv[:2] == ["load", "docker-image"]:
            images |= {
                a
                for a in call.argv[2:]
                if not a.startswith("-") and a != option(call.argv, "--name")
            }
        if call.tool == "kind" and call.argv[:2] == ["load", "image-archive"]:
            images |= set(call.event.get("images") or [])
    return {normalise(i) for i in images}


def check_images(install: Install) -> list[str]:
    have_pinned, have_built, have_loaded = pinned(install.root), built(install), loaded(install)
    named: list[tuple[str, str]] = []
    for pod in pods(install):
        if not pod.owner.remote:
            named += [
                (c.get("image", ""), f"{pod.label}: container {c.get('name')}")
                for c in pod.containers()
            ]
    for obj in install.of_kind("KFPPipelineRun"):
        named += [
            (image, f"KFP pipeline ({obj.origin}, submitted at {obj.via})")
            for image in obj.body["images"]
        ]
    errors = []
    for image, where in named:
        image = normalise(image)
        if image in have_pinned:
            continue
        if image not in have_built:
            errors.append(
                f"{where} runs image {image}, which images.sh never builds and k8s/versions.env "
                "does not pin"
            )
        elif image not in have_loaded:
            errors.append(
                f"{where} runs image {image}, which images.sh builds but never loads into kind"
            )
    return errors
