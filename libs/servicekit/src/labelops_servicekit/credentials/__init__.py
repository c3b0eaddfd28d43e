"""API keys in Postgres (schema ``labelops_auth``), shared by every service.

- ``keys``: the ``lok_<key_id>_<secret>`` format; only sha256 of the secret is stored;
- ``store.KeyStore``: the SQL of ``api_keys``; ``auth_migrations()`` creates it;
- ``source.PgKeySource``: the gRPC authenticator's ``KeySource`` (in-memory snapshot,
  refreshed about every second: revocation and rotation take effect without a restart);
- ``grpc_api.CredentialServicer``: ``labelops.admin.v1.CredentialService`` (admin only, own
  tenant only), mounted by the scaffold on every service.
"""

from .grpc_api import CREDENTIAL_METHOD_ACTIONS, CREDENTIAL_SERVICE, CredentialServicer
from .keys import format_key, parse_key, secret_digest
from .source import REASON_API_KEY_EXPIRED, REASON_API_KEY_REVOKED, PgKeySource
from .store import AUTH_SCHEMA, KeyRow, KeyStore, auth_migrations

__all__ = [
    "AUTH_SCHEMA",
    "CREDENTIAL_METHOD_ACTIONS",
    "CREDENTIAL_SERVICE",
    "REASON_API_KEY_EXPIRED",
    "REASON_API_KEY_REVOKED",
    "CredentialServicer",
    "KeyRow",
    "KeyStore",
    "PgKeySource",
    "auth_migrations",
    "format_key",
    "parse_key",
    "secret_digest",
]
