"""Keep credentials out of the gateway's logs.

The gateway takes credentials only from headers and the session cookie, and neither uvicorn's
access log nor our own lines print headers; but a client may still put a key in a URL (an old
dashboard link with ``?key=``), and the access log prints URLs. ``RedactCredentials`` rewrites
such values to ``[redacted]`` in every record of the loggers ``install`` names: query
parameters whose name says credential (``key``, ``api_key``, ``token``, ``access_token``,
``jwt``, ``password``, ``secret``, ``session``, ``auth``... and the session cookie's name),
``Bearer <token>`` and ``x-api-key: <key>`` / ``cookie: ...`` fragments.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

#: Query parameter names (case-insensitive, ``-``/``_`` alike) whose value is a credential.
SENSITIVE_PARAMS = (
    "key",
    "api_key",
    "apikey",
    "x_api_key",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "jwt",
    "auth",
    "authorization",
    "password",
    "secret",
    "session",
    "labelops_session",
)

#: Loggers whose records may carry a URL or a header.
LOGGERS = ("uvicorn.access", "uvicorn.error", "labelops_gateway", "labelops_gateway.events")


def _param_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n).replace("_", "[-_]") for n in names)
    return re.compile(rf"(?i)((?:^|[?&;\s\"']|%3F|%26)(?:{alternatives})=)[^&;\s\"'#]*")


_HEADERS = re.compile(r"(?i)\b((?:x-api-key|cookie|set-cookie)\s*[:=]\s*)[^\r\n\"']+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


class RedactCredentials(logging.Filter):
    """A filter that never drops a record, only rewrites credential values in it."""

    def __init__(self, extra_params: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._params = _param_pattern(SENSITIVE_PARAMS + tuple(extra_params))

    def scrub(self, text: str) -> str:
        """``text`` with credential values replaced."""
        text = self._params.sub(rf"\g<1>{REDACTED}", text)
        text = _HEADERS.sub(rf"\g<1>{REDACTED}", text)
        return _BEARER.sub(rf"\g<1>{REDACTED}", text)

    def _arg(self, value: Any) -> Any:
        return self.scrub(value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.scrub(record.msg)
        # Keep the args' shape: uvicorn's access formatter unpacks them by position.
        if isinstance(record.args, tuple):
            record.args = tuple(self._arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._arg(v) for k, v in record.args.items()}
        return True


def install(cookie_name: str = "labelops_session") -> RedactCredentials:
    """Put one ``RedactCredentials`` on each of ``LOGGERS`` (once; again → the same one)."""
    existing = next(
        (f for f in logging.getLogger(LOGGERS[0]).filters if isinstance(f, RedactCredentials)),
        None,
    )
    redactor = existing or RedactCredentials((cookie_name,))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if redactor not in logger.filters:
            logger.addFilter(redactor)
    return redactor
