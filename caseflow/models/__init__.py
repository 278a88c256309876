"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from .aftercare import Aftercare, AftercareContact
from .agenda import AgendaReminder, AgendaSettings, PerformanceReport, PlannedVisit, WorkTarget
from .api import ApiToken, IdempotencyRecord
from .attachment import Attachment
from .audit import AuditChainHead, AuditCheckpoint, AuditCheckpointEntry, AuditEvent
from .case import (
    Assessment,
    Case,
    CaseNumberCounter,
    Evaluation,
    Goal,
    GoalRating,
    InterventionPlan,
    RiskLevel,
    SignOff,
    StateAssignmentError,
    Step,
    TerminationRequest,
)
from .client import Client, mask_nik
from .reference import PpksCategory, Province
from .referral import Referral
from .reports import CaseStageHistory, ReportFile, ReportFilePart, ReportJob, ReportSnapshot
from .rollup import ReportMonthCell, ReportSealedMonth
from .sign_off_policy import Delegation, Notification, SignOffEscalation
from .supervision import ActionPoint, SupervisionSession
from .sync_health import LateArrival, SyncReport
from .tasks import TaskRun
from .user import (
    PRIVILEGED_ROLES,
    AccountChange,
    AccountChangeKind,
    AccountChangeStatus,
    EmploymentStatus,
    Role,
    User,
)

__all__ = [
    "LateArrival",
    "SyncReport",
    "TaskRun",
    "Attachment",
    "Aftercare",
    "AgendaReminder",
    "AgendaSettings",
    "PerformanceReport",
    "PlannedVisit",
    "WorkTarget",
    "AftercareContact",
    "Referral",
    "PRIVILEGED_ROLES",
    "AccountChange",
    "AccountChangeKind",
    "AccountChangeStatus",
    "ApiToken",
    "IdempotencyRecord",
    "Assessment",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditCheckpointEntry",
    "AuditEvent",
    "Case",
    "CaseNumberCounter",
    "CaseStageHistory",
    "Client",
    "EmploymentStatus",
    "Evaluation",
    "Goal",
    "GoalRating",
    "InterventionPlan",
    "PpksCategory",
    "Province",
    "RiskLevel",
    "ReportFile",
    "ReportFilePart",
    "ReportJob",
    "ReportMonthCell",
    "ReportSealedMonth",
    "ReportSnapshot",
    "Role",
    "SignOff",
    "StateAssignmentError",
    "Step",
    "TerminationRequest",
    "User",
    "mask_nik",
    "Delegation",
    "Notification",
    "SignOffEscalation",
    "ActionPoint",
    "SupervisionSession",
]
