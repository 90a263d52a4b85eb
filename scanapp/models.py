"""Imports every feature's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from .auth.models import ApiKey, Organisation  # noqa: F401
from .authority.models import (  # noqa: F401
    AuthorityScope,
    Finding,
    ProvincePolicy,
    ReviewItem,
    ReviewLog,
)
from .epcis.models import (  # noqa: F401
    EpcisCaptureJob,
    EpcisEvent,
    EpcisEventIdentifier,
    EpcisOutbox,
    EpcisScanDay,
)
from .fraud.models import (  # noqa: F401
    CaseEvent,
    DashboardSession,
    EvidenceIssue,
    FieldInspection,
    Flag,
    InspectionPhoto,
    WebhookDelivery,
)
from .products.models import PrinterAuthorisation, Product  # noqa: F401
from .reports.models import ConsumerReport  # noqa: F401
from .scan.models import PinCheck, ScanEvent  # noqa: F401
from .serials.models import (  # noqa: F401
    CodeChecksum,
    RangeTransition,
    SerialCounter,
    SerialOverride,
    SerialRange,
    SigningKey,
)
from .trace.models import (  # noqa: F401
    Certificate,
    LineageEdge,
    Location,
    Lot,
    LotEvent,
    Party,
    PortalOutbox,
    TracePartner,
    TraceState,
)
from .trace.publication import Withheld  # noqa: F401
