"""Contains all the data models used in inputs/outputs"""

from .caller import Caller
from .community import Community
from .community_count import CommunityCount
from .database_state import DatabaseState
from .invalid_param import InvalidParam
from .mailing_summary import MailingSummary
from .probe_status import ProbeStatus
from .probe_status_status import ProbeStatusStatus
from .problem import Problem
from .readiness import Readiness
from .readiness_status import ReadinessStatus
from .segment import Segment

__all__ = (
    "Caller",
    "Community",
    "CommunityCount",
    "DatabaseState",
    "InvalidParam",
    "MailingSummary",
    "ProbeStatus",
    "ProbeStatusStatus",
    "Problem",
    "Readiness",
    "ReadinessStatus",
    "Segment",
)
