"""Fetch packages with their ordinary clients (npm, pip, apt-get, dpkg-deb); argument lists, never a shell.

Every failure is a :class:`PackageFetchError` whose one-line message names the package.
"""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path


class PackageFetchError(RuntimeError):
    """A package client is missing or a download failed; the message names the package."""


def run_client(argv, package, cwd):
    """Run a package client and return its standard output.

    Parameters
    ----------
    argv : list of str
        Command and arguments (no shell).
    package : str
        The package being fetched, for the error message.
    cwd : path
        Working directory, created if needed (downloads land here).

    Raises
    ------
    PackageFetchError
        The client is not on PATH or exits non-zero (its last line of output is quoted).
    """
    if shutil.which(argv[0]) is None:
        raise PackageFetchError(f"{package}: '{argv[0]}' is not on PATH, so the package cannot be fetched")
    Path(cwd).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
        raise PackageFetchError(f"{package}: '{' '.join(argv[:2])}' failed: {lines[-1].strip()}")
    return result.stdout


def _single_file(folder, pattern, package):
    found = sorted(Path(folder).glob(pattern))
    if len(found) != 1:
        raise PackageFetchError(f"{package}: expected one {pattern} file after the download, found {len(found)}")
    return found[0]


def npm_pack(spec, dest):
    """Download an npm package tarball (``npm pack name@version``) into ``dest``; return its path."""
    run_client(["npm", "pack", spec, "--ignore-scripts", "--silent", "--pack-destination", str(dest)], spec, dest)
    return _single_file(dest, "*.tgz", spec)


def pip_download(spec, dest):
    """Download a PyPI wheel (``pip download --no-deps --only-binary :all: name==version``); return its path."""
    run_client(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--quiet",
            "--dest",
            str(dest),
            spec,
        ],
        spec,
        dest,
    )
    return _single_file(dest, "*.whl", spec)


def apt_download(package, dest):
    """Download a Debian package (``apt-get download``) into ``dest``; return the ``.deb`` path."""
    run_client(["apt-get", "download", package], package, dest)
    return _single_file(dest, "*.deb", package)


def deb_members(deb, keep):
    """Read the files of a ``.deb`` whose paths satisfy ``keep`` (via ``dpkg-deb --fsys-tarfile``).

    Returns
    -------
    dict of str -> bytes
        Path inside the package (``./usr/...`` as stored) -> content.
    """
    package = Path(deb).name
    if shutil.which("dpkg-deb") is None:
        raise PackageFetchError(f"{package}: 'dpkg-deb' is not on PATH, so the package cannot be unpacked")
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as process:
        members = tar_stream_members(process.stdout, keep)
        error = process.stderr.read().decode(errors="replace").strip()
    if process.returncode != 0:
        last = error.splitlines()[-1] if error else "no output"
        raise PackageFetchError(f"{package}: 'dpkg-deb --fsys-tarfile' failed: {last}")
    return members


def tar_stream_members(fileobj, keep):
    """Read the regular files of a tar stream whose names satisfy ``keep``; return ``{name: bytes}``."""
    members = {}
    with tarfile.open(fileobj=fileobj, mode="r|*") as archive:
        for member in archive:
            if member.isfile() and keep(member.name):
                members[member.name] = archive.extractfile(member).read()
    return members
