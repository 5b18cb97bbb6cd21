"""Domain errors raised by services and turned into messages by views."""
from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""
