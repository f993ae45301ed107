"""The generated FastAPI app served by uvicorn, driven as its clients drive it, with a real
database behind it, on every driver: schemathesis finds no failure of any of its checks, and
a taken unique value, an unknown author and an existing tag get the answers the OpenAPI
description promises; a body over the limit is refused before it is read; a request that
waits on a lock fails at the statement timeout with a 503 and leaves nothing behind;
concurrent writers on SQLite take turns while readers go on; two clients editing one post
never overwrite each other; concurrent creators of the same tags all succeed; a commit the
database refuses is a 500 that stores nothing; and SIGTERM under load loses no request and
leaves no connection open."""

from __future__ import annotations

import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_client import Response, call
from helpers import Render
from scenario import (
    SCENARIOS,
    SERVER_DRIVERS,
    Served,
    checked_run,
    deploy,
    run_scenario,
    scenario_process,
    served,
    stopped_with_requests_in_flight,
)

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices

SCHEMATHESIS = "schemathesis>=4,<5"
SCHEMATHESIS_EXAMPLES = 10  # per operation and phase
REQUESTS_IN_FLIGHT = 50


def fastapi_project(driver: str, render: Render, databases: Databases, name: str) -> Project:
    combination = Combination(driver, "annotated", "fastapi")
    return deploy(databases.attach(render(combination), f"{name}_{driver}"))


# Rejections that a schema cannot express: a cursor is opaque (one that matches its schema may
# still be no cursor of this API), and an author id may belong to no user. And one that
# schemathesis 4 misreads: it fills an optional header with letters and digits (`If-Match:
# 0`) even where the header's pattern needs quotes, and counts the 400 that says so as a
# schema-valid request rejected (when the post exists; otherwise the answer is a 404).
SCHEMATHESIS_CONFIG = """
[[operations]]
include-name = "GET /posts/{post_id}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "404"]

[[operations]]
include-name = "PATCH /posts/{post_id}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]

[[operations]]
include-name = "DELETE /posts/{post_id}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]

[[operations]]
include-name = "GET /users"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-name = "GET /posts"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-name = "GET /tags"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-name = "POST /posts"
checks.positive_data_acceptance.expected-statuses = ["2xx", "422"]
"""


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_schemathesis_finds_no_failure_and_writes_get_their_documented_answers(
    driver: str, render: Render, databases: Databases
) -> None:
    project = fastapi_project(driver, render, databases, "schemathesis")
    python = project.executable("python")
    checked_run(project, ["uv", "pip", "install", "--quiet", "--python", python, SCHEMATHESIS], 600)
    config = project.path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG, encoding="utf-8")
    with served(project) as app:
        argv = ["schemathesis", "--config-file", str(config), "run", f"{app.base_url}/openapi.json"]
        # Every check: no 5xx, only documented statuses, headers and bodies, schema-valid
        # requests accepted and invalid ones refused, 405 with Allow, ...
        argv += ["--checks", "all", "--max-examples", str(SCHEMATHESIS_EXAMPLES)]
        argv += ["--workers", "1", "--no-shrink", "--phases", "coverage,fuzzing,stateful"]
        # Generating POST /posts bodies (patterns in lists) is slow on a busy machine: that is
        # hypothesis' speed, not the API's.
        argv += ["--suppress-health-check", "too_slow"]
        completed = project.run(argv, settings={"NO_COLOR": "1"}, timeout=900)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, f"{output}\n--- uvicorn ---\n{app.log()[-5000:]}"
        writes_get_their_documented_answers(app)
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output
    assert int(generated.group(1)) >= 100, output


def writes_get_their_documented_answers(app: Served) -> None:
    """What each database says when a constraint refuses a write is mapped to the status the
    OpenAPI description documents: its messages differ by driver."""
    users = f"{app.base_url}/users"
    ada = {"name": "Ada", "email": "ada@answers.example"}
    created = call("POST", users, ada)
    assert created.status == 201, created.body
    assert created.headers["Location"] == f"{users}/{created.json()['id']}"
    taken = call("POST", users, ada)
    assert (taken.status, taken.json()) == (409, {"detail": "A user has this email."})
    alan = call("POST", users, {"name": "Alan", "email": "alan@answers.example"}).json()
    renamed = call("PATCH", f"{users}/{alan['id']}", {"email": ada["email"]})
    assert renamed.status == 409, renamed.body
    assert call("GET", f"{users}/{alan['id']}").json()["email"] == alan["email"]

    body = {"author_id": 2**31 - 1, "title": "Orphan", "content": "..."}
    orphan = call("POST", f"{app.base_url}/posts", body)
    assert orphan.status == 422, orphan.body
    assert [problem["loc"] for problem in orphan.json()["detail"]] == [["body", "author_id"]]

    tags = f"{app.base_url}/tags"
    first = call("POST", tags, {"name": "answers"})
    again = call("POST", tags, {"name": "answers"})
    assert (first.status, again.status) == (201, 200), (first.body, again.body)
    assert again.json() == first.json()
    other = call("POST", tags, {"name": "other answers"}).json()
    clash = call("PATCH", f"{tags}/{other['id']}", {"name": "answers"})
    assert (clash.status, clash.json()) == (409, {"detail": "A tag has this name."})

    deleted = call("DELETE", f"{users}/{alan['id']}")
    assert (deleted.status, deleted.body, deleted.headers["Content-Type"]) == (204, b"", None)


BODY_LIMIT = 1024  # bytes, for the test: API_MAX_BODY_BYTES


def raw_request(app: Served, head: bytes, body: bytes) -> bytes:
    """Send `head` and the first part of a body, then read the answer without sending more."""
    host, port = app.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = connection.recv(65536)
            if not received:
                break
            answer += received
    return answer


def test_a_body_over_the_limit_is_refused_before_it_is_sent(
    render: Render, databases: Databases
) -> None:
    """Not database-dependent: one driver. A client announcing 60 MB, or sending a chunked
    body past the limit, gets its 413 while the rest is still unsent: the API reads no
    further than the limit."""
    project = fastapi_project("aiosqlite", render, databases, "limit")
    with served(project, settings={"API_MAX_BODY_BYTES": str(BODY_LIMIT)}) as app:
        announced = (
            b"POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000000\r\n\r\n"
        )
        assert raw_request(app, announced, b'{"name": "').startswith(b"HTTP/1.1 413 ")
        chunked = (
            b"POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * (BODY_LIMIT + 1)
        first_chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        assert raw_request(app, chunked, first_chunk).startswith(b"HTTP/1.1 413 ")
        within = call("POST", f"{app.base_url}/users", {"name": "Ada", "email": "a@b.example"})
        assert within.status == 201, within.body


REFUSE_AT_COMMIT = (
    "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.name = 'Refused at commit' THEN RAISE EXCEPTION 'refused at commit'; END IF; "
    "RETURN NULL; END $$",
    # DEFERRABLE INITIALLY DEFERRED: the check runs at COMMIT, after every flush succeeded.
    "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON users "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
)


def new_user(app: Served) -> object:
    """Create Ada (ada@x.org) through the API; her id."""
    created = call("POST", f"{app.base_url}/users", {"name": "Ada", "email": "ada@x.org"})
    assert created.status == 201, created.body
    return created.json()["id"]


def post(author_id: object, number: int, tags: list[str]) -> dict[str, object]:
    """The body of POST /posts for post `number` of this author."""
    return {"author_id": author_id, "title": f"Post {number}", "content": "...", "tags": tags}


def run_sql(project: Project, *statements: str) -> None:
    completed = project.run_script(SCENARIOS / "sql.py", project.package, *statements)
    assert completed.returncode == 0, completed.stdout + completed.stderr


# PostgreSQL only: MariaDB has no deferred constraints, so no way to make a real COMMIT fail
# after every flush succeeded (each generated FastAPI project tests a failing commit itself).
def test_a_commit_refused_by_the_database_is_a_server_error(
    render: Render, databases: Databases
) -> None:
    project = fastapi_project("asyncpg", render, databases, "refused")
    run_sql(project, *REFUSE_AT_COMMIT)
    with served(project) as app:
        refused = {"name": "Refused at commit", "email": "refused@example.com"}
        assert call("POST", f"{app.base_url}/users", refused).status == 500
        accepted = {"name": "Accepted", "email": "accepted@example.com"}
        assert call("POST", f"{app.base_url}/users", accepted).status == 201
        found = call("GET", f"{app.base_url}/users/search?name=at+commit")
        assert found.json() == []  # nothing of the failed request was stored


STATEMENT_TIMEOUT = 2  # seconds


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_a_request_stuck_on_a_lock_is_a_503_at_the_statement_timeout(
    driver: str, render: Render, databases: Databases
) -> None:
    project = fastapi_project(driver, render, databases, "timeout")
    timeout = {"DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT)}
    with served(project, settings=timeout) as app:
        user = f"{app.base_url}/users/{new_user(app)}"
        with scenario_process(project, "locks.py", "hold_user", "ada@x.org") as lock:
            assert lock.next_report()["phase"] == "locked"
            started = time.monotonic()
            stuck = call("PATCH", user, {"name": "Changed"})
            waited = time.monotonic() - started
            lock.go_on()
            assert lock.next_report()["phase"] == "released"
        assert stuck.status == 503, stuck.body
        assert stuck.headers["Retry-After"] == "1"
        assert STATEMENT_TIMEOUT - 0.5 <= waited <= STATEMENT_TIMEOUT + 1, waited
        # Nothing of the stuck request was stored, and the pool is fine: the next one works.
        assert call("GET", user).json()["name"] == "Ada"
        changed = call("PATCH", user, {"name": "Changed"})
        assert changed.status == 200, changed.body
        assert call("GET", user).json()["name"] == "Changed"


CONCURRENT_WRITES = 200


def test_concurrent_writers_on_sqlite_take_turns_and_readers_go_on(
    render: Render, databases: Databases
) -> None:
    with served(fastapi_project("aiosqlite", render, databases, "writers")) as app:
        project = app.project

        def create_user(number: int) -> int:
            body = {"name": f"User {number}", "email": f"user{number}@example.com"}
            return call("POST", f"{app.base_url}/users", body).status

        with ThreadPoolExecutor(CONCURRENT_WRITES) as clients:
            statuses = list(clients.map(create_user, range(CONCURRENT_WRITES)))
        assert statuses == [201] * CONCURRENT_WRITES
        assert call("GET", f"{app.base_url}/users").json()["total"] == CONCURRENT_WRITES

        # While a transaction holds the write lock, reads are answered at once.
        with scenario_process(project, "locks.py", "hold_user", "user0@example.com") as lock:
            assert lock.next_report()["phase"] == "locked"
            started = time.monotonic()
            read = call("GET", f"{app.base_url}/users?limit=5")
            waited = time.monotonic() - started
            lock.go_on()
            assert lock.next_report()["phase"] == "released"
        assert read.status == 200, read.body
        assert waited < 1, f"a read waited {waited:.1f} s for the writer"


@pytest.mark.parametrize("driver", SERVER_DRIVERS)
def test_two_clients_editing_one_post_never_overwrite_each_other(
    driver: str, render: Render, databases: Databases
) -> None:
    with served(fastapi_project(driver, render, databases, "editors")) as app:
        body = {"author_id": new_user(app), "title": "Draft", "content": "..."}
        created = call("POST", f"{app.base_url}/posts", body)
        post = f"{app.base_url}/posts/{created.json()['id']}"
        etag = call("GET", post).headers["ETag"]

        def edit(title: str) -> Response:
            return call("PATCH", post, {"title": title}, headers={"If-Match": etag})

        # Both read the same version, then both write, at once.
        with ThreadPoolExecutor(2) as clients:
            first, second = clients.map(edit, ["Alice's title", "Bob's title"])
        assert sorted([first.status, second.status]) == [200, 412], (first.body, second.body)
        winner = first if first.status == 200 else second
        stored = call("GET", post)
        assert stored.json()["title"] == winner.json()["title"]
        assert stored.headers["ETag"] == winner.headers["ETag"] != etag


CONCURRENT_CREATORS = 50


@pytest.mark.parametrize("driver", SERVER_DRIVERS)
def test_concurrent_creators_of_the_same_tags_all_succeed(
    driver: str, render: Render, databases: Databases
) -> None:
    with served(fastapi_project(driver, render, databases, "taggers")) as app:
        author_id = new_user(app)

        def create_post(number: int) -> int:
            body = post(author_id, number, tags=["python", "sql", "async"])
            return call("POST", f"{app.base_url}/posts", body).status

        with ThreadPoolExecutor(CONCURRENT_CREATORS) as clients:
            statuses = list(clients.map(create_post, range(CONCURRENT_CREATORS)))
        assert statuses == [201] * CONCURRENT_CREATORS
        tags = call("GET", f"{app.base_url}/tags?limit=100").json()
        assert sorted(tag["name"] for tag in tags["items"]) == ["async", "python", "sql"]
        assert call("GET", f"{app.base_url}/posts").json()["total"] == CONCURRENT_CREATORS


def other_connections(project: Project) -> int:
    [report] = run_scenario(project, "locks.py", "connections")
    connections: int = report["connections"]
    return connections


@pytest.mark.parametrize("driver", SERVER_DRIVERS)
def test_sigterm_under_load_loses_no_request_and_closes_every_connection(
    driver: str, render: Render, databases: Databases
) -> None:
    with served(fastapi_project(driver, render, databases, "shutdown")) as app:
        project = app.project
        author_id = new_user(app)

        def create_post(number: int) -> Response:
            body = post(author_id, number, tags=["shutdown", f"tag-{number}"])
            return call("POST", f"{app.base_url}/posts", body, timeout=120)

        # Every request waits on the author's row lock: they are all in flight at SIGTERM.
        outcomes = stopped_with_requests_in_flight(
            project,
            create_post,
            REQUESTS_IN_FLIGHT,
            lambda: app.process.send_signal(signal.SIGTERM),
        )
        # uvicorn shuts down, then ends by the signal it caught, as a process should.
        assert app.process.wait(timeout=60) == -signal.SIGTERM, app.log()

    created = [r for r in outcomes if isinstance(r, Response) and r.status == 201]
    unexpected = [r for r in outcomes if isinstance(r, Response) and r.status != 201]
    assert unexpected == [], [(r.status, r.body[:200]) for r in unexpected]
    assert created, "no request completed during the graceful shutdown"
    # Nothing half-way: exactly the created posts are stored, each with both its tags.
    with served(project) as app:
        stored = call("GET", f"{app.base_url}/posts/search?tag=shutdown&limit=100").json()
    assert sorted(post["title"] for post in stored) == sorted(r.json()["title"] for r in created)
    assert all(len(post["tags"]) == 2 for post in stored)
    # The engine was disposed: no connection of the stopped app is left on the server.
    assert other_connections(project) == 0
