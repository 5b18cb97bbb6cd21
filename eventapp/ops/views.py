"""Health and readiness endpoints for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..extensions import csrf, limiter
from . import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    ready, checks = services.readiness()
    if not ready:
        # The load balancer only sees 503: the reason goes to the log for whoever is on call.
        current_app.logger.warning("Not ready: %s", "; ".join(f"{k}: {v}" for k, v in checks.items()))
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)


csrf.exempt(bp)
