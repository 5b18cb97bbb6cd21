"""Jinja filters and globals shared by every template."""
from __future__ import annotations

from datetime import date, datetime, time

from flask import Flask, request, url_for


def init_app(app: Flask) -> None:
    @app.template_filter("longdate")
    def longdate(value: date | datetime | None) -> str:
        if not value:
            return ""
        return f"{value:%A} {value.day} {value:%B %Y}"

    @app.template_filter("hm")
    def hm(value: time | datetime | None) -> str:
        return value.strftime("%H:%M") if value else ""

    @app.template_global()
    def present(attrs: dict) -> dict:
        """Drop attributes whose value is None so WTForms does not render them."""
        return {k: v for k, v in attrs.items() if v is not None}

    @app.template_global()
    def page_url(page: int) -> str:
        args = request.args.to_dict()
        args["page"] = page
        return url_for(request.endpoint, **(request.view_args or {}), **args)
