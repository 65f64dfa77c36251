"""Output throughput: K producers write their share of the lines as fast as they can."""

from __future__ import annotations

import time

from bench.config import Config
from bench.harness import RunTimeout, launch, teardown
from bench.place import Place
from bench.results import Metrics
from bench.runners import Runner, service
from bench.stream import TAG_PAYLOAD, check_payload


def sc_firehose(cfg: Config, runner: Runner | None, place: Place, k: int, linger: bool) -> Metrics:
    """K producers write their share of the lines; time until all are seen."""
    shares = {
        f"s{i:02d}": cfg.firehose_lines // k + (1 if i < cfg.firehose_lines % k else 0)
        for i in range(k)
    }
    svcs = [service(n, "fire", c, "linger" if linger else "exit") for n, c in shares.items()]
    h = launch(runner, svcs, place)
    try:
        s, total = h.stream, cfg.firehose_lines
        deadline = h.t_launch + cfg.deadline_s
        while s.counts[TAG_PAYLOAD] < total and not s.eof:
            now = time.monotonic()
            if now > deadline:
                raise RunTimeout(f"{s.counts[TAG_PAYLOAD]}/{total} lines")
            idle_since = s.last.get(TAG_PAYLOAD, h.t_launch)
            if TAG_PAYLOAD in s.last and now - idle_since > cfg.stall_s:
                break  # lines were lost: stop waiting, count them below
            s.pump(0.1)
        if TAG_PAYLOAD not in s.first:
            raise RuntimeError(f"no payload seen {h.stderr_tail()}")
        res = {
            "wall_s": s.last[TAG_PAYLOAD] - h.t_launch,
            "stream_s": s.last[TAG_PAYLOAD] - s.first[TAG_PAYLOAD],
        }
        s.tail += b"\n"
        res.update(check_payload(s.text(), shares))
        return res
    finally:
        teardown(h)
