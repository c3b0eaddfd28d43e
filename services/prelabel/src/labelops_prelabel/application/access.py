"""Who is acting, for what the prelabel service records.

Which role may call which method is the method -> action table of ``entrypoints/access.py``,
checked by the server kit before any handler runs; nothing here repeats it. The application
works in the caller's tenant (``labelops_core.context.current_tenant``) and records operators'
switches under the caller's subject.
"""

from __future__ import annotations

from labelops_core.context import current_principal


def operator() -> str:
    """Who an operator's change is recorded as ("operator" without an authenticator)."""
    p = current_principal()
    return p.subject if p is not None else "operator"
