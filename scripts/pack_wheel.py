"""Packs the seine wheel from an extension cargo already built (no second compile).

    python scripts/pack_wheel.py target/debug/lib_seine.so target/wheels

scripts/test.sh builds the workspace once (`cargo build --workspace --all-targets`:
the tests' crates and python/'s cdylib with the same features) and packs that
library here, so the Python tests run on the very build the Rust tests ran on. The
wheel has maturin's layout (python/seine/*, the extension as seine/_seine.abi3.so,
metadata from python/pyproject.toml, version from the workspace Cargo.toml, tag
cp39-abi3-linux_<arch>); releases are built by maturin (scripts/build-python.sh).
"""

import base64
import hashlib
import platform
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def metadata(version: str) -> str:
    project = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())["project"]
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
             f"Summary: {project['description']}", f"Requires-Python: {project['requires-python']}",
             f"License: {project['license']['text']}"]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {d} ; extra == '{extra}'" for d in deps]
    return "\n".join(lines) + "\n"


def main() -> None:
    lib, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    tag = f"cp39-abi3-linux_{platform.machine()}"
    files = {f"seine/{p.name}": p.read_bytes()
             for p in sorted((ROOT / "python" / "seine").iterdir())
             if p.is_file() and p.suffix in (".py", ".pyi", ".typed")}
    files["seine/_seine.abi3.so"] = lib.read_bytes()
    info = f"seine-{version}.dist-info"
    files[f"{info}/METADATA"] = metadata(version).encode()
    files[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: seine scripts/pack_wheel.py\n"
                              f"Root-Is-Purelib: false\nTag: {tag}\n").encode()
    records = [record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(records) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"seine-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    print(wheel)


if __name__ == "__main__":
    main()
