"""The generated application image, built and run for real: podman (from Debian's packages,
no Docker) builds a FastAPI project's Dockerfile on a base image made from Debian's packages,
runs its migrate step and its app against a test PostgreSQL and MariaDB server, and the app
answers /health/ready, stores and returns what a client sends, runs as a non-root user, and
ends within 10 s of SIGTERM without losing a request in flight.

No image registry is needed: the base image (Debian bookworm with its python3) is made with
debootstrap once, kept as a tarball under the repository's .cache/, and imported into podman's
storage when it is missing there.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Response, call
from helpers import Render
from scenario import installed, stopped_with_requests_in_flight

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.servers import free_port

BASE_IMAGE = "localhost/debian-python:bookworm"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "podman"
BASE_TARBALL = CACHE / "debian-python-bookworm.tar"
REQUESTS_IN_FLIGHT = 20


def podman(*arguments: str, timeout: float = 600, check: bool = True) -> str:
    """Run podman with runc (crun cannot set rlimits in this kind of sandbox)."""
    if shutil.which("podman") is None:
        raise AssertionError("podman is missing: run scripts/install-system-deps")
    completed = subprocess.run(
        ["podman", "--runtime", "runc", *arguments],
        env=podman_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(arguments)} exited {completed.returncode}:\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}"
        )
    return completed.stdout


def podman_environment() -> dict[str, str]:
    # No default ulimits: the sandbox may not raise RLIMIT_NOFILE for the container.
    conf = CACHE / "containers.conf"
    if not conf.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        conf.write_text("[containers]\ndefault_ulimits = []\n", encoding="utf-8")
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


@pytest.fixture(scope="session")
def base_image() -> str:
    """Debian bookworm with python3 and venv, as a podman image; made once, then cached
    (one xdist worker makes it, the others wait for it)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "base-image.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _image_exists():
            _import_base_image()
    return BASE_IMAGE


def _import_base_image() -> None:
    if not BASE_TARBALL.exists():
        rootfs = CACHE / f"rootfs-{uuid.uuid4().hex}"
        packages = "python3,python3-venv,ca-certificates"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={packages}", "bookworm", rootfs],
            capture_output=True,
            check=True,
            timeout=900,
        )
        partial = BASE_TARBALL.with_suffix(".partial")
        subprocess.run(["tar", "-C", rootfs, "-cf", partial, "."], check=True, timeout=300)
        partial.rename(BASE_TARBALL)
        shutil.rmtree(rootfs)
    # Builds download packages from PyPI: they trust the machine's CA bundle, mounted in.
    change = "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
    podman("import", "--change", change, str(BASE_TARBALL), BASE_IMAGE)


def _image_exists() -> bool:
    completed = subprocess.run(
        ["podman", "image", "exists", BASE_IMAGE], env=podman_environment(), check=False
    )
    return completed.returncode == 0


def build(project: Project, base: str) -> str:
    """Build the project's image as its README says, on `base`; the image's name."""
    image = f"localhost/{project.path.name.lower()}-{uuid.uuid4().hex[:8]}:test"
    podman(
        "build",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--volume",
        "/etc/ssl/certs:/etc/ssl/certs:ro",
        "--format",
        "docker",  # keeps HEALTHCHECK, which the OCI format has no field for
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--tag",
        image,
        str(project.path),
        timeout=1200,
    )
    return image


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"sqla-template-{uuid.uuid4().hex[:12]}"
    yield name
    podman("rm", "--force", "--ignore", name, check=False, timeout=120)


def wait_until_ready(base_url: str, name: str, timeout: float = 120) -> Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = call("GET", f"{base_url}/health/ready", timeout=5)
            if response.status == 200:
                return response
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"/health/ready did not answer 200:\n{podman('logs', name, check=False)}")


@pytest.mark.parametrize("driver", ["asyncpg", "aiomysql"])
def test_the_image_migrates_serves_as_non_root_and_stops_on_sigterm(
    driver: str,
    render: Render,
    databases: Databases,
    base_image: str,
    container_name: str,
) -> None:
    project = databases.attach(
        render(Combination(driver, "annotated", "fastapi")), f"image_{driver}"
    )
    installed(project)  # the user's first step, `uv sync`, which writes uv.lock
    assert (project.path / "uv.lock").exists()
    image = build(project, base_image)
    try:
        run_the_image(project, image, container_name)
    finally:
        podman("rmi", "--force", image, check=False, timeout=120)


def run_the_image(project: Project, image: str, container_name: str) -> None:
    assert project.database_url is not None
    database = ["--env", f"DATABASE_URL={project.database_url}"]

    # The one-off migrate step, then the app, both on the host's network (the test servers
    # listen on 127.0.0.1), the app on a free port.
    podman("run", "--rm", "--network", "host", *database, image, "alembic", "upgrade", "head")
    port = free_port()
    podman(
        "run", "--detach", "--name", container_name, "--network", "host", *database,
        "--env", f"UVICORN_PORT={port}", image,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    ready = wait_until_ready(base_url, container_name)
    assert ready.json()["status"] == "ready"

    created = call("POST", f"{base_url}/users", {"name": "Ada", "email": "ada@x.org"})
    assert created.status == 201, created.body
    author_id = created.json()["id"]
    read = call("GET", f"{base_url}/users/{author_id}")
    assert read.json()["email"] == "ada@x.org", read.body

    status = podman("exec", container_name, "cat", "/proc/1/status")
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == ["10001"] * 4, status  # real, effective, saved and filesystem uid

    def create_post(number: int) -> Response:
        body = {"author_id": author_id, "title": f"Post {number}", "content": "...", "tags": []}
        return call("POST", f"{base_url}/posts", body, timeout=60)

    # Every request waits on the author's row lock: they are all in flight at SIGTERM.
    signalled: list[float] = []

    def stop() -> None:
        podman("kill", "--signal", "TERM", container_name)
        signalled.append(time.monotonic())

    outcomes = stopped_with_requests_in_flight(project, create_post, REQUESTS_IN_FLIGHT, stop)
    podman("wait", container_name, timeout=30)
    stopped_after = time.monotonic() - signalled[0]
    assert stopped_after < 10, stopped_after
    statuses = [o.status if isinstance(o, Response) else repr(o) for o in outcomes]
    assert statuses == [201] * REQUESTS_IN_FLIGHT, statuses
