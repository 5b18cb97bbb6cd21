"""A local SMTP server that keeps what it receives (``flask mail sink``): a mailbox for trying things out."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from ..timeutil import utcnow


class _StoreHandler:
    def __init__(self, directory: Path, echo=None):
        self.directory = directory
        self.echo = echo
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        name = f"{utcnow():%Y%m%dT%H%M%S}-{n:06d}.eml"
        # Written under a temporary name and renamed, so readers never see half a message.
        tmp = self.directory / (name + ".part")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(self.directory / name)
        if self.echo:
            self.echo(f"{name}: from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}")
        return "250 Message accepted for delivery"


def run_sink(host: str, port: int, directory: Path, echo=None, stop=None) -> None:
    """Receive mail on host:port and store each message as an .eml file until stopped (Ctrl-C)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:  # pragma: no cover - optional dependency
        raise RuntimeError("The mail sink needs aiosmtpd: pip install aiosmtpd") from None
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(_StoreHandler(directory, echo), hostname=host, port=port, decode_data=False)
    controller.start()
    try:
        while not (stop and stop()):
            time.sleep(0.2)
    except KeyboardInterrupt:
        # Ctrl-C is how an operator stops the sink: fall through to a clean shutdown.
        pass
    finally:
        controller.stop()
