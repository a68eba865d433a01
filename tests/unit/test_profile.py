"""`make profile` reads py-spy's stacks of the shop's worker: what it prints must be the request's
frames, not the processes' and the loop's that sit under every sample."""

from __future__ import annotations

from bench.profile import ROOT, frames

SUPERVISOR = 'process 11:"python -m storefront.serving bench.app:create_bench_app --workers 1"'
# multiprocessing starts the worker with `python -c "…; …"`: a ';' inside the mark, py-spy's separator
WORKER = (
    'process 12:"python -B -c from multiprocessing.spawn import spawn_main; spawn_main(pipe_handle=8)'
    ' --multiprocessing-fork"'
)
LOOP = (
    "<module> (<string>:1);_main (/usr/lib/python3.11/multiprocessing/spawn.py:131);"
    f"_worker ({ROOT}/storefront/serving.py:250);run_forever (/usr/lib/python3.11/asyncio/base_events.py:608);"
    "_run_once (/usr/lib/python3.11/asyncio/base_events.py:1922)"
)
RAW = "\n".join(
    (
        f"{SUPERVISOR};{WORKER};{LOOP};product_page ({ROOT}/storefront/catalog/routes.py:90);"
        f"render ({ROOT}/storefront/rendering.py:40) 6",
        f"{SUPERVISOR};{WORKER};{LOOP};product_page ({ROOT}/storefront/catalog/routes.py:91) 3",
        # the loop's own functions other than its turn do a request's work: a timeout set for it
        f"{SUPERVISOR};{WORKER};{LOOP};call_later (/usr/lib/python3.11/asyncio/base_events.py:727) 2",
        f"{SUPERVISOR};{WORKER} 1",  # a sample in the worker's native code
    )
)


def test_the_profile_counts_the_requests_frames_without_the_processes_and_the_loops():
    inclusive, own, total = frames(RAW)
    assert total == 12
    assert dict(inclusive) == {
        "product_page (storefront/catalog/routes.py)": 9,
        "render (storefront/rendering.py)": 6,
        "call_later (python3.11/asyncio/base_events.py)": 2,
        "(no Python frame)": 1,
    }
    assert dict(own) == {
        "render (storefront/rendering.py)": 6,
        "product_page (storefront/catalog/routes.py)": 3,
        "call_later (python3.11/asyncio/base_events.py)": 2,
        "(no Python frame)": 1,
    }


def test_the_profile_can_look_under_one_function_only():
    inclusive, _own, total = frames(RAW, focus="render")
    assert (dict(inclusive), total) == ({"render (storefront/rendering.py)": 6}, 6)
