#!/usr/bin/env python
"""Fetch (or refresh) the JavaScript/CSS assets that gridcarbon's maps inline, from the npm registry.

The maps are self-contained by default: every script, style and image they need is inlined into
the HTML from ``gridcarbon/maps/static/``.  This script fills that folder reproducibly:

* each package is fetched with ``npm pack <name>@<version>`` (the npm registry only, no CDN);
* the tarball's SHA-512 is checked against the registry's ``dist.integrity`` **and** against the
  value pinned below, so a changed upload is noticed;
* only the files listed below are extracted, together with the package's licence file;
* ``gridcarbon/maps/static/MANIFEST.json`` records name, version, licence, tarball integrity and
  the SHA-256 of every extracted file (a test checks the files against it).

Usage::

    python scripts/vendor_map_assets.py            # fetch and write
    python scripts/vendor_map_assets.py --check    # verify the vendored files against MANIFEST.json

Only Leaflet is vendored: the maps use Leaflet's own scale and layer controls, and the legends,
time slider and charts are gridcarbon's own small pieces (see ``gridcarbon/maps/elements.py``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "gridcarbon" / "maps" / "static"

#: name, version, SPDX licence, pinned tarball integrity, files to extract (paths in the tarball
#: under ``package/``) → destination relative to ``static/<name>/``.
PACKAGES = [
    {
        "name": "leaflet",
        # The version folium 0.20 links to from its CDN, so the inlined copy behaves the same.
        "version": "1.9.3",
        "license": "BSD-2-Clause",
        "integrity": "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
        "files": {
            "LICENSE": "LICENSE",
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
        },
    },
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm(*args: str, cwd: Path) -> str:
    res = subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"npm {' '.join(args)} failed:\n{res.stderr}")
    return res.stdout.strip()


def fetch(dest: Path = STATIC) -> dict:
    """Fetch every package of :data:`PACKAGES` into ``dest`` and write ``MANIFEST.json``."""
    manifest: dict = {"generated_by": "scripts/vendor_map_assets.py", "packages": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for pkg in PACKAGES:
            spec = f"{pkg['name']}@{pkg['version']}"
            registry_integrity = _npm("view", spec, "dist.integrity", cwd=tmpdir)
            tgz_name = _npm("pack", spec, "--silent", cwd=tmpdir).splitlines()[-1]
            tgz = tmpdir / tgz_name
            digest = (
                "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
            )
            for label, expected in (("registry", registry_integrity), ("pinned", pkg["integrity"])):
                if digest != expected:
                    raise SystemExit(f"{spec}: tarball integrity {digest} != {label} {expected}")
            out = dest / pkg["name"]
            if out.exists():
                shutil.rmtree(out)
            files = {}
            with tarfile.open(tgz) as tar:
                for src, rel in pkg["files"].items():
                    member = tar.extractfile(f"package/{src}")
                    if member is None:
                        raise SystemExit(f"{spec}: {src} missing from the tarball")
                    target = out / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(member.read())
                    files[rel] = _sha256(target)
            manifest["packages"].append(
                {
                    "name": pkg["name"],
                    "version": pkg["version"],
                    "license": pkg["license"],
                    "license_file": f"{pkg['name']}/LICENSE",
                    "source": f"npm registry: npm pack {spec}",
                    "integrity": digest,
                    "files": files,
                }
            )
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def check(dest: Path = STATIC) -> list[str]:
    """Problems found comparing the vendored files with ``MANIFEST.json`` (empty list = fine)."""
    problems = []
    manifest = json.loads((dest / "MANIFEST.json").read_text(encoding="utf-8"))
    pinned = {p["name"]: p for p in PACKAGES}
    for pkg in manifest["packages"]:
        pin = pinned.get(pkg["name"])
        if pin is None or pin["version"] != pkg["version"] or pin["integrity"] != pkg["integrity"]:
            problems.append(f"{pkg['name']}: manifest does not match the pinned version/integrity")
        for rel, sha in pkg["files"].items():
            path = dest / pkg["name"] / rel
            if not path.is_file():
                problems.append(f"missing {path}")
            elif _sha256(path) != sha:
                problems.append(f"checksum mismatch: {path}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify instead of fetching")
    args = ap.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    manifest = fetch()
    for p in manifest["packages"]:
        print(f"vendored {p['name']}@{p['version']} ({len(p['files'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
