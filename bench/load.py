"""Load benchmark: many signed-in users doing a realistic mix against gunicorn, for a fixed time.

Seeds an agency (``tandem seed``: members, supporters in a primary and a backup on-call
rotation, recovery clients), and one signed-in account per simulated user (coordinator,
dispatcher, auditor, member and ARO roles). Each user is a thread with its own keep-alive
connection that loops, with a think time between requests, over: the home page, the member
directory with a search, "on call now", the client list with a search, the audit page,
filing a request for peer support for a colleague (a routed, audited write) and logging a
recovery contact with a client (an encrypted, audited write). The client is bounded: one
thread per user, one request in flight per thread, loopback only.

Afterwards it prints throughput, p50/p95/p99, errors (any status other than the expected one,
or a connection failure), and writes lost: writes the server answered as done (requests and
contacts) that are not in the database when rows are counted afterwards, and "same day":
contacts the form held back because another user had logged one with that client the same
day (two simulated users drew the same client), which the user then confirmed as separate,
as a person would. Then it runs ``tandem audit verify``.

    .venv/bin/python bench/load.py [--users 25,50] [--seconds 30] [--members 2000] [--clients 2000]
    .venv/bin/python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/tandem_load

With ``--database-url`` the named PostgreSQL database is dropped and created afresh (it must be
a scratch database); without it, a scratch SQLite file is used with the default settings.
"""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    SIGNED_IN,
    bench_env,
    csrf_of,
    engine_name,
    fresh_database,
    last_line,
    on_behalf_body,
    pct,
    run_script,
    seed_scale,
    serving,
)
from support import NUMBERS  # noqa: E402

#: The contact form's answer when someone else logged a contact with the client that day.
SAME_DAY = "Somebody else already logged a contact with this client that day"

CLIENTS = """
import django
django.setup()
from django.utils import timezone
from tandem.recovery.models import Client
# The site's offset from UTC first: the contact form takes a local time.
print(int(timezone.localtime().utcoffset().total_seconds()), " ".join(
    str(pk) for pk in Client.objects.filter(agency__slug="scale")
    .values_list("pk", flat=True)[:5000]))
"""

SESSIONS = (
    """
import django, sys
django.setup()
"""
    + SIGNED_IN
    + """
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.models import Agency
agency = Agency.objects.get(slug="scale")
for i in range(int(sys.argv[1])):
    user, _ = User.objects.get_or_create(username=f"load-{i}", defaults={"agency": agency})
    for role in ("coordinator", "dispatcher", "auditor", "member", "aro"):
        RoleAssignment.objects.get_or_create(user=user, agency=agency, role=role)
    print(signed_in(user, "load"))
"""
)

COUNT = """
import django
django.setup()
from tandem.recovery.models import Contact
from tandem.support.models import SupportRequest, UsageRecord
print(SupportRequest.objects.count() + UsageRecord.objects.count() + Contact.objects.count())
"""

READS = [
    ("home", "/", 200),
    ("directory search", "/agency/members/?q=smi", 200),
    ("on call now", "/support/on-call/", 200),
    ("client search", "/recovery/clients/?q=smi", 200),
    ("audit page", "/audit/", 200),
]


class User(threading.Thread):
    def __init__(
        self,
        port: int,
        cookie: str,
        numbers: list[str],
        clients: list[str],
        stop_at: float,
        seed: int,
    ):
        super().__init__(daemon=True)
        self.port, self.cookie, self.numbers, self.stop_at = port, cookie, numbers, stop_at
        self.clients = clients
        self.utc_offset = 0
        self.random = random.Random(seed)  # noqa: S311 - a request mix, not a secret
        self.timings: list[float] = []
        self.errors: list[str] = []
        self.filed = 0
        self.csrf: tuple[str, str] | None = None
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None):
        all_headers = {"Cookie": f"sessionid={self.cookie}", **(headers or {})}
        if self.csrf:
            all_headers["Cookie"] += f"; csrftoken={self.csrf[0]}"
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body or None, headers=all_headers)
            response = self.conn.getresponse()
            page = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.errors.append(f"{path}: {type(exc).__name__}")
            return None, ""
        self.timings.append((time.perf_counter() - start) * 1000)
        return response, page

    def ensure_csrf(self) -> bool:
        if self.csrf is None:
            response, page = self.request("GET", "/support/on-behalf/")
            if response is None:
                return False
            self.csrf = csrf_of(response, page)
            if self.csrf is None:
                self.errors.append(f"/support/on-behalf/ form: {response.status}")
                return False
        return True

    def log_contact(self) -> None:
        if not self.ensure_csrf() or self.csrf is None:
            return
        path = f"/recovery/clients/{self.random.choice(self.clients)}/contacts/new/"
        fields = {
            "csrfmiddlewaretoken": self.csrf[1],
            "idempotency_key": uuid.uuid4().hex,
            "kind": "phone",
            "occurred_at": time.strftime(
                "%Y-%m-%dT%H:%M", time.gmtime(time.time() + self.utc_offset - 60)
            ),
            "duration_minutes": "15",
            "aro_present": "on",
            "location_type": "phone",
            "outcome": "engaged",
            "notes": "Checked in by phone.",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{self.port}{path}",
        }
        response, page = self.request("POST", path, urlencode(fields), headers)
        if response is not None and response.status == 400 and SAME_DAY in page:
            # Another user logged a contact with this client today (two simulated users drew
            # the same client): the form asks, and the user says this call is a separate one.
            self.confirmed += 1
            fields["confirm_separate"] = "on"
            response, _ = self.request("POST", path, urlencode(fields), headers)
        if response is None:
            return
        if response.status == 302:
            self.filed += 1
        else:
            self.errors.append(f"POST {path}: {response.status}")

    confirmed = 0  # contacts the same-day check asked about, then logged as separate

    def file_request(self) -> None:
        if not self.ensure_csrf() or self.csrf is None:
            return
        key = uuid.uuid4().hex  # unique across rounds and threads
        body = on_behalf_body(self.csrf[1], key, "Load Person", self.random.choice(self.numbers))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{self.port}/support/on-behalf/",
        }
        response, _ = self.request("POST", "/support/on-behalf/", body, headers)
        if response is None:
            return
        if response.status == 200:  # the page with the receipt; a refused form is a 400
            self.filed += 1
        else:
            self.errors.append(f"POST /support/on-behalf/: {response.status}")

    def run(self) -> None:
        time.sleep(self.random.random())  # users do not all start in the same millisecond
        while time.monotonic() < self.stop_at:
            draw = self.random.random()
            if draw < 0.15:
                self.file_request()
            elif draw < 0.3 and self.clients:
                self.log_contact()
            else:
                _, path, expected = self.random.choice(READS)
                response, _ = self.request("GET", path)
                if response is not None and response.status != expected:
                    self.errors.append(f"{path}: {response.status}")
            time.sleep(self.think)

    think = 1.0


def prepare_database(url: str | None, scratch: str) -> dict[str, str]:
    env = bench_env(scratch)
    fresh_database(env, url)
    return env


def run_round(
    env: dict[str, str],
    users: int,
    seconds: float,
    workers: int,
    threads: int,
    numbers: list[str],
    clients: list[str],
    cookies: list[str],
    utc_offset: int,
) -> None:
    with serving(env, workers=workers, threads=threads, config=True) as port:
        before = int(last_line(run_script(env, COUNT)))
        stop_at = time.monotonic() + seconds
        crowd = [User(port, cookies[i], numbers, clients, stop_at, seed=i) for i in range(users)]
        for user in crowd:
            user.utc_offset = utc_offset
        started = time.perf_counter()
        for user in crowd:
            user.start()
        for user in crowd:
            user.join()
        elapsed = time.perf_counter() - started
    after = int(last_line(run_script(env, COUNT)))
    timings = [t for user in crowd for t in user.timings]
    errors = [e for user in crowd for e in user.errors]
    filed = sum(user.filed for user in crowd)
    lost = filed - (after - before)
    print(
        f"{users:6} {len(timings) / elapsed:8.1f} {pct(timings, 50):8.0f} "
        f"{pct(timings, 95):8.0f} {pct(timings, 99):8.0f} {len(errors):7} {filed:6} {lost:5}"
        f" {sum(user.confirmed for user in crowd):9}"
    )
    for error in sorted(set(errors))[:5]:
        print(f"       e.g. {error}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", help="scratch PostgreSQL database (dropped first)")
    parser.add_argument("--users", default="25", help="comma-separated user counts")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--supporters", type=int, default=50)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--think", type=float, default=1.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.users.split(",")]
    User.think = args.think

    with tempfile.TemporaryDirectory(prefix="tandem-load-") as scratch:
        env = prepare_database(args.database_url, scratch)
        started = time.perf_counter()
        seed_scale(env, args.members, supporters=args.supporters, clients=args.clients)
        numbers = last_line(run_script(env, NUMBERS))
        offset, *clients = run_script(env, CLIENTS).split()
        cookies = run_script(env, SESSIONS, str(max(counts))).split()
        engine = engine_name(args.database_url)
        print(
            f"{engine}: seeded {args.members} members, {args.supporters} supporters, "
            f"{args.clients} clients, {max(counts)} accounts in "
            f"{time.perf_counter() - started:.1f} s; gunicorn {args.workers} workers × "
            f"{args.threads} threads; {args.seconds:.0f} s per round, think {args.think} s\n"
        )
        print(
            f"{'users':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'errors':>7} {'filed':>6} {'lost':>5} {'same day':>9}"
        )
        for users in counts:
            run_round(
                env,
                users,
                args.seconds,
                args.workers,
                args.threads,
                numbers.split(),
                clients,
                cookies,
                int(offset),
            )
        verify = subprocess.run(
            [sys.executable, "-m", "tandem.cli", "audit", "verify"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        last = (verify.stdout + verify.stderr).strip().splitlines()
        print(f"\ntandem audit verify: exit {verify.returncode}; {last[-1] if last else ''}")


if __name__ == "__main__":
    main()
