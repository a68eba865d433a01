"""`make profile`: where a page's time goes. Serves the 15-product benchmark shop (one worker, as
`make bench` does), loads one page with wrk and samples the server with py-spy meanwhile, then
prints the functions that hold the most samples, inclusive (the function and what it calls) and
self (the function's own code), as shares of all samples.

    make profile                                  # the product page of a visitor with 2 cart lines
    make profile PROFILE_PATH=/healthz            # any address of the shop
    make profile PROFILE_PATH=/en/cart/lines PROFILE_ADD=1   # the htmx add-to-cart
    make profile PROFILE_PATH=status PROFILE_HTMX=1          # the status poll of a paid order
    make profile PROFILE_PATH=/admin/orders PROFILE_STAFF=1  # the back office, signed in as the owner
    make profile PROFILE_PATH=/_bench/ceiling/plain PROFILE_BARE=1  # a ceiling of the bare framework

Environment: PROFILE_SECONDS (default 10), PROFILE_TOP (default 30), PROFILE_HTMX=1 (ask as htmx),
PROFILE_FOCUS (only the samples under a function whose name contains this, e.g. read_page),
PROFILE_RAW (keep py-spy's collapsed stacks in this file), PROFILE_LARGE=1 (the shop with 10,000
products and orders more, as `make bench` measures it), BENCH_DATABASE_URL as for `make bench`.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402 (after the path is set)
    ADD_SCRIPT,
    CEILING_PATH,
    HX_SCRIPT,
    PRODUCT,
    Server,
    paid_order_status_path,
    prepare,
    signed_in,
    token_of,
    variant_ids,
    visitor_with_two_lines,
    wrk,
)

SECONDS = int(os.environ.get("PROFILE_SECONDS", "10"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))


# The process's own frames, under every sample: they say nothing about a request.
_PROCESS = (
    "runpy",
    "click/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "multiprocessing/",
    "storefront/serving.py",
    "<module> (<string>)",  # the worker's `python -c` that multiprocessing starts
)
# The event loop's own turn, under every sample too; its other functions (call_later, create_task)
# do a request's work and stay.
_LOOP = re.compile(r"(run_until_complete|run_forever|_run_once) \(.*asyncio/base_events\.py\)$")
# py-spy's mark of the process a stack is from ('process 123:"python -m …";'), one per level:
# the supervisor's, then its worker's. A command line may hold ';', the stacks' separator.
_PROCESS_MARK = re.compile(r'process \d+:"[^"]*";?')


def frames(raw: str, focus: str = "") -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """py-spy's collapsed stacks ("outer;inner;innermost count" per line) as samples per function:
    inclusive (once per stack it appears in) and self (innermost frame); with `focus`, only the
    stacks through a function whose name contains it, from that function down."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = _PROCESS_MARK.sub("", stack)
        names = [_short(frame) for frame in stack.split(";") if frame] or ["(no Python frame)"]
        if focus:
            at = next((i for i, name in enumerate(names) if focus in name.split(" (")[0]), None)
            if at is None:
                continue
            names = names[at:]
        total += count
        for name in {name for name in names if not (any(part in name for part in _PROCESS) or _LOOP.match(name))}:
            inclusive[name] += count
        own[names[-1]] += count
    return inclusive, own, total


def _short(frame: str) -> str:
    """`render (storefront/rendering.py)`: the virtualenv's and the repository's paths and the
    line number cut, so a function counts as one wherever in it the sample fell."""
    head, _, tail = frame.partition(" (")
    where = tail.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/"):
        if marker in where:
            where = where.split(marker, 1)[-1]
            break
    return f"{head} ({where})"


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    path = os.environ.get("PROFILE_PATH", f"/en/products/{PRODUCT}")
    # PROFILE_BARE=1: the bare framework's app (bench/bare.py) serving its ceilings, to set the
    # shop's pipeline beside it.
    bare = bool(os.environ.get("PROFILE_BARE"))
    if bare and not path.startswith(CEILING_PATH):
        print(f"PROFILE_BARE=1 serves only the ceilings, under {CEILING_PATH}/", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="storefront-profile-"))
    try:
        name = "large" if os.environ.get("PROFILE_LARGE") else "small"
        env = prepare(workdir, os.environ.get("BENCH_DATABASE_URL"), names=(name,))[name]
        factory = "bench.bare:create_bare_app" if bare else "bench.app:create_bench_app"
        with Server(env, factory, 1) as server:
            assert server.process is not None
            if path == "status":  # an order paid through the sandbox, as `make bench` polls it
                path = paid_order_status_path(server.url)
            if bare:
                cookie = ""  # (the bare app reads no cookie)
            elif os.environ.get("PROFILE_STAFF"):
                cookie = signed_in(server.url)
            else:
                cookie = visitor_with_two_lines(server.url)[0]
            script = HX_SCRIPT if os.environ.get("PROFILE_HTMX") else None
            if os.environ.get("PROFILE_ADD"):
                script = ADD_SCRIPT % {"token": token_of(cookie), "variants": ", ".join(variant_ids(env))}
            wrk(server.url + path, cookie=cookie, script=script, duration=2)  # warm up
            raw = workdir / "profile.txt"
            sampler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.process.pid),
                 "--subprocesses",  # the worker, started by storefront.serving
                 "--duration", str(SECONDS), "--rate", "400", "--format", "raw", "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            load = threading.Thread(
                target=wrk, args=(server.url + path,), kwargs={"cookie": cookie, "script": script, "duration": SECONDS}
            )
            load.start()
            load.join()
            sampler.wait(timeout=SECONDS + 30)
        if keep := os.environ.get("PROFILE_RAW"):
            shutil.copy(raw, keep)
        focus = os.environ.get("PROFILE_FOCUS", "")
        inclusive, own, total = frames(raw.read_text(), focus)
        within = f", under {focus}" if focus else ""
        print(f"{path}: {total} samples in {SECONDS} s{within}\n\ninclusive (the function and what it calls):")
        for name, count in inclusive.most_common(TOP):
            print(f"  {count / total:6.1%}  {name}")
        print("\nself (the function's own code):")
        for name, count in own.most_common(TOP):
            print(f"  {count / total:6.1%}  {name}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
