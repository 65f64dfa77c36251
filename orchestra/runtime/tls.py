"""asyncio is imported with its TLS support only when a service of the run has an https check.

`import asyncio` imports `ssl` (for `asyncio.open_connection(ssl=...)` and TLS servers), and
`ssl` with OpenSSL's library is ~5 ms of a cold start of ~60 ms: the largest single module
on the way to the first line. Only one thing in orchestra speaks TLS, the http check of an
`https://` URL (`runtime/probes.py`), and the plan says before the runtime is imported
whether any service has one. So `import_asyncio` imports asyncio the way it is imported on
a Python built without ssl, which asyncio supports: with `sys.modules["ssl"]` set to None,
the documented way to make `import ssl` raise ImportError, for the duration of that one
import, after which `ssl` can be imported as usual again (asyncio's own modules then go on
without TLS, which this run does not use). A plan with an https check imports ssl first, and
asyncio gets its TLS support as always.

Called before the first import of asyncio, by whatever runs services (`cli/up.py`,
`cli/run.py`); if asyncio or ssl is imported already, there is nothing to decide.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from orchestra.config.model import CheckKind
from orchestra.plan import Plan

if TYPE_CHECKING:
    from orchestra.config.model_parts import Check


def needs_tls(plan: Plan | None) -> bool:
    """Whether a service of `plan` has an http check of an https URL."""
    if plan is None:
        return False
    return any(_is_https(check) for instance in plan.instances
               for check in (instance.service.readiness, instance.service.liveness))


def _is_https(check: Check | None) -> bool:
    if check is None or check.kind is not CheckKind.HTTP:
        return False
    from urllib.parse import urlsplit  # with ipaddress: only for a run with an http check

    return urlsplit(check.url or "").scheme == "https"


def import_asyncio(plan: Plan | None) -> None:
    """Import asyncio, with TLS support only if `plan` needs it (see above)."""
    if not ("asyncio" in sys.modules or "ssl" in sys.modules or needs_tls(plan)):
        sys.modules["ssl"] = None  # type: ignore[assignment]
        try:
            importlib.import_module("asyncio")
        except ImportError:   # an asyncio that cannot do without ssl: import both as usual
            for name in [n for n in sys.modules if n == "asyncio" or n.startswith("asyncio.")]:
                del sys.modules[name]
        finally:
            del sys.modules["ssl"]
    importlib.import_module("asyncio")
