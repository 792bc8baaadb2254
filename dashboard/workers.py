"""Whether anything will run a job the page sends: in Celery mode, a worker must answer.

Embedded, the server runs its own jobs and there is nothing to ask. With REDIS_URL set a
Train or a search is a Celery task, and a task sent while no worker runs waits in Redis
for good; the page asks first (``missing``) and says what to start instead.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

log = logging.getLogger(__name__)

PING_S = 1.0        # how long the workers have to answer
START_WORKER = "celery -A app:celery_app worker"

_celery: Any = None


def use(celery_app: Any) -> None:
    """Jobs go to this Celery app's workers (app.py, in Celery mode)."""
    global _celery
    _celery = celery_app


def celery_app() -> Any:
    """The Celery app jobs are sent to; None when embedded."""
    return _celery


def missing(button: str = "Train") -> Optional[str]:
    """None when a job sent now will run; else a sentence saying why it would not (and to
    press ``button`` again once it will)."""
    if _celery is None:
        return None
    try:
        answers = _celery.control.ping(timeout=PING_S, limit=1)
    except Exception as exc:  # noqa: BLE001 - Redis down or refusing: say so, do not send
        log.warning("could not ask the Celery workers: %s", exc)
        return (f"The job queue (Redis) does not answer ({type(exc).__name__}: {exc}); nothing can be sent "
                f"to a worker until it does.")
    if answers:
        return None
    return (f"No Celery worker is running, so nothing would run this. Start one with "
            f"`{START_WORKER}` (with the same REDIS_URL as the server), then press {button} again.")
