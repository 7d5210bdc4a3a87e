"""Vendor three.js for ``diffmesh view``: one minified ES module in ``src/diffmesh/viewer/vendor/three/``.

The viewer page must work offline from a ``file://`` URL, so the JavaScript it needs ships inside
the package. This script (run by a developer, never at run time; needs ``node`` and ``npm``):

1. ``npm pack three@THREE_VERSION`` into a temporary folder: the exact registry tarball, whose
   sha1 ``shasum`` and sha512 ``integrity`` npm checks and we record;
2. installs the bundler ``esbuild@ESBUILD_VERSION`` there (a build tool; nothing of it is vendored);
3. bundles :data:`EXPORTS` (the three.js core classes the viewer uses, ``GLTFLoader`` and
   ``OrbitControls``) into one minified ES module, tree-shaken, keeping three.js's ``@license``
   comment inline;
4. writes ``three.bundle.min.js``, the package's ``LICENSE`` (verbatim) and ``PROVENANCE.md``
   (versions, tarball checksums, licence, the bundle's entry and command, file sizes and SHA-256).

Same versions, same bytes: ``--check`` rebuilds into a temporary folder and compares with the
committed files. Usage::

    python tools/vendor_three.py            # (re)write the vendored files
    python tools/vendor_three.py --check    # exit 1 if the committed files differ from a rebuild
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

logger = logging.getLogger("vendor_three")

THREE_VERSION = "0.187.0"
ESBUILD_VERSION = "0.28.2"
BUNDLE = "three.bundle.min.js"
DEST = Path(__file__).resolve().parents[1] / "src" / "diffmesh" / "viewer" / "vendor" / "three"

#: What the viewer imports, by module. Only these (and what they need) end up in the bundle.
EXPORTS = {
    "three": [
        "AnimationMixer", "Box3", "Color", "DirectionalLight", "GridHelper", "HemisphereLight",
        "MeshStandardMaterial", "PerspectiveCamera", "REVISION", "Scene", "SRGBColorSpace", "Vector3",
        "WebGLRenderer",
    ],
    "three/addons/loaders/GLTFLoader.js": ["GLTFLoader"],
    "three/addons/controls/OrbitControls.js": ["OrbitControls"],
}  # fmt: skip


def entry_source() -> str:
    """The bundle's entry module: re-exports of :data:`EXPORTS`."""
    lines = [f"export {{ {', '.join(names)} }} from '{module}';" for module, names in EXPORTS.items()]
    return "\n".join(lines) + "\n"


def _run(cmd: list[str], cwd: Path) -> str:
    logger.info("$ %s", " ".join(cmd))
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"vendor_three: {cmd[0]} failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout


def build(dest: Path) -> None:
    """Write the bundle, LICENSE and PROVENANCE.md into ``dest`` (created if needed)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("vendor_three: needs node and npm (Debian: apt-get install nodejs npm)")
    with tempfile.TemporaryDirectory(prefix="vendor-three-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "package.json").write_text('{"name": "vendor-three", "private": true}\n')
        # esbuild first: npm install prunes packages it did not install, such as the unpacked three
        _run(["npm", "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", f"esbuild@{ESBUILD_VERSION}"], tmp)
        packed = json.loads(_run(["npm", "pack", f"three@{THREE_VERSION}", "--json"], tmp))[0]
        tarball = tmp / packed["filename"]
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp / "extract", filter="data")
        shutil.move(tmp / "extract" / "package", tmp / "node_modules" / "three")
        (tmp / "entry.js").write_text(entry_source())
        bundle_cmd = ["esbuild", "entry.js", "--bundle", "--format=esm", "--minify", "--legal-comments=inline",
                      "--log-level=warning", f"--outfile={BUNDLE}"]  # fmt: skip
        _run([str(tmp / "node_modules" / ".bin" / bundle_cmd[0]), *bundle_cmd[1:]], tmp)

        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp / BUNDLE, dest / BUNDLE)
        shutil.copyfile(tmp / "node_modules" / "three" / "LICENSE", dest / "LICENSE")
        licence = json.loads((tmp / "node_modules" / "three" / "package.json").read_text())["license"]
        tarball_sha256 = hashlib.sha256(tarball.read_bytes()).hexdigest()
        (dest / "PROVENANCE.md").write_text(_provenance(dest, packed, tarball_sha256, licence, bundle_cmd))
    logger.info("vendored three %s -> %s (%d bytes)", THREE_VERSION, dest, (dest / BUNDLE).stat().st_size)


def _provenance(dest: Path, packed: dict, tarball_sha256: str, licence: str, bundle_cmd: list[str]) -> str:
    rows = []
    for name in (BUNDLE, "LICENSE"):
        data = (dest / name).read_bytes()
        rows.append(f"| `{name}` | {len(data):,} | `{hashlib.sha256(data).hexdigest()}` |")
    entry = entry_source().rstrip("\n")
    return f"""# three.js, vendored for `diffmesh view`

Written by `tools/vendor_three.py`; do not edit by hand (rerun the script, `--check` to verify).

| | |
|---|---|
| package | `three` {THREE_VERSION} (npm registry tarball `{packed["filename"]}`) |
| tarball integrity | `{packed["integrity"]}` |
| tarball shasum (sha1) | `{packed["shasum"]}` |
| tarball sha256 | `{tarball_sha256}` |
| licence | {licence} (`LICENSE`, copied verbatim from the tarball; the bundle keeps three.js's `@license` comment) |
| bundler | `esbuild` {ESBUILD_VERSION} (build tool only; none of it is vendored) |

`{BUNDLE}` is three.js's own code, unmodified apart from bundling and minification: the ES module
below, bundled with `{" ".join(bundle_cmd)}` (tree-shaken: only what these names need).

```js
{entry}
```

| file | bytes | sha256 |
|---|---|---|
{chr(10).join(rows)}
"""


def check() -> int:
    """Rebuild into a temporary folder; 0 when every vendored file is byte-identical."""
    with tempfile.TemporaryDirectory(prefix="vendor-three-check-") as tmp:
        build(Path(tmp))
        differ = [p.name for p in sorted(Path(tmp).iterdir()) if not (DEST / p.name).is_file()
                  or (DEST / p.name).read_bytes() != p.read_bytes()]  # fmt: skip
    if differ:
        logger.error("vendored files differ from a rebuild: %s", ", ".join(differ))
        return 1
    logger.info("vendored files match a rebuild of three %s", THREE_VERSION)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        return check()
    build(DEST)
    return 0


if __name__ == "__main__":
    sys.exit(main())
