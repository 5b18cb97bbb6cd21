"""Structured request logs with a request id that follows the request across processes."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request

_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
logger = logging.getLogger("eventapp.request")
# URL parts that are credentials: a delegate's manage link, a calendar feed, a partner link,
# a password reset. Whoever can read the logs must not be able to open them.
SECRET_URL_ARGS = ("token",)


# The same, for an address no route matched (a 404 below a personal link has no view_args).
_SECRET_PATH_RE = re.compile(r"^(/(?:manage|calendar|partner|reset-password)/|/a/[^/]+/register/confirm/"
                             r"|/organiser/assemblies/[^/]+/check-in/scan/)([^/]+)")


def logged_path() -> str:
    """The request's path with every secret URL part replaced by ``[name]``."""
    path = request.path
    if request.url_rule is None:
        return _SECRET_PATH_RE.sub(r"\1[token]", path)
    for name in SECRET_URL_ARGS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), f"[{name}]")
    return path


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                   "logger": record.name, "message": record.getMessage()}
        payload.update(getattr(record, "fields", {}))
        return json.dumps(payload, ensure_ascii=False)


def init_app(app: Flask) -> None:
    app.config.setdefault("REQUEST_LOG", not app.testing)
    if app.config["REQUEST_LOG"] and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    @app.before_request
    def start():
        incoming = request.headers.get("X-Request-ID", "")
        # Accept a proxy's id only if it is tame; never echo arbitrary header text.
        g.request_id = incoming if _ID_RE.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log(response):
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        started = getattr(g, "request_started", None)
        if not app.config["REQUEST_LOG"]:
            return response
        logger.info("request", extra={"fields": {
            "request_id": request_id, "method": request.method, "path": logged_path(),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }})
        return response
