"""Every SQLAlchemy table of the deployment, for Alembic and the schema tests."""

from core.storage import audit_chain as _audit_chain  # noqa: F401  (registers its table)
from core.storage import audit_trail as _audit_trail  # noqa: F401  (registers its table)
from core.storage import key_records as _key_records  # noqa: F401
from core.storage import readiness as _readiness  # noqa: F401
from core.storage import single_use as _single_use  # noqa: F401
from core.storage.base import Base
from issuers.storage import tables as _issuer_tables  # noqa: F401
from oversight.storage import tables as _oversight_tables  # noqa: F401
from verifiers.storage import tables as _verifier_tables  # noqa: F401
from wallet.storage import mediation_tables as _mediation_tables  # noqa: F401
from wallet.storage import notification_tables as _notification_tables  # noqa: F401
from wallet.storage import tables as _wallet_tables  # noqa: F401

metadata = Base.metadata
