"""Health and readiness endpoints for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, jsonify

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
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)


csrf.exempt(bp)
