"""A PEP 517 build backend of the standard library only, for this one pure-Python package.

Why not setuptools: ``pip install ./python`` builds in an isolated environment and would fetch
its backend from PyPI, which Runlet's users (and its CI) may not reach. A pure-Python wheel is
a zip of the sources plus three metadata files, so this backend writes exactly that.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "runlet_client"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("[project]", 1)[1].split("\n[", 1)[0]

    def field(name):
        match = re.search(rf'^{name}\s*=\s*"([^"]*)"', section, re.M)
        if not match:
            raise RuntimeError(f"pyproject.toml: [project] {name} is missing")
        return match.group(1)

    return field("name"), field("version"), field("description"), field("requires-python")


def _dist_name(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata():
    name, version, description, requires_python = _project()
    readme_path = os.path.join(ROOT, "README.md")
    readme = open(readme_path, encoding="utf-8").read() if os.path.exists(readme_path) else ""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {description}",
        f"Requires-Python: {requires_python}",
        "License: MIT",
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ]
    return "\n".join(lines)


def _sources():
    """(path inside the wheel, bytes) of every file of the package."""
    out = []
    base = os.path.join(ROOT, PACKAGE)
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(folder, name)
            with open(full, "rb") as f:
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), f.read()))
    return out


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, files):
    name, version, *_ = _project()
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    files = list(files) + [
        (f"{info}/METADATA", _metadata().encode("utf-8")),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: runlet_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    record = "\n".join([_record_line(p, d) for p, d in files] + [f"{info}/RECORD,,", ""])
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files:
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", record)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _sources())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file naming this folder: the installed package is the working copy.
    return _write_wheel(wheel_directory, [(f"_{PACKAGE}_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    name, version, *_ = _project()
    base = f"{_dist_name(name)}-{version}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as sdist:
        for rel in ["pyproject.toml", "README.md", "_build/runlet_build.py"] + [p for p, _ in _sources()]:
            full = os.path.join(ROOT, rel)
            if os.path.exists(full):
                sdist.add(full, arcname=f"{base}/{rel}")
        pkg_info = _metadata().encode("utf-8")
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size = len(pkg_info)
        sdist.addfile(entry, io.BytesIO(pkg_info))
    return filename
