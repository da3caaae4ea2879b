"""Every model, imported in one place so migrations and tests see the whole schema."""

from controller.audit.models import AuditLog
from controller.auth.models import ApiToken, User, user_offices
from controller.devices.models import Device, DeviceTag
from controller.fleet.models import (
    AgentNonce,
    Command,
    DeviceEvent,
    EnrollmentToken,
    Screenshot,
    UsageCounter,
)
from controller.metrics.models import DEVICE_COUNTS
from controller.offices.models import Office
from controller.portal.models import (
    Neighbour,
    PortalAttempt,
    PortalPolicy,
    PortalSession,
    PseudonymSalt,
    Voucher,
    VoucherBatch,
)
from controller.reports.models import ReportDay, ReportMonthVisitor, ReportRollupDay, ReportSnapshot
from controller.scheduler.models import Schedule, SchedulerLease, ScheduleRun, apscheduler_jobs
from controller.ssh.models import Job, JobHost, SshSettings

__all__ = [
    "DEVICE_COUNTS",
    "AgentNonce",
    "ApiToken",
    "AuditLog",
    "Command",
    "DeviceEvent",
    "Device",
    "DeviceTag",
    "EnrollmentToken",
    "Neighbour",
    "Job",
    "JobHost",
    "Office",
    "PortalAttempt",
    "PortalPolicy",
    "PortalSession",
    "PseudonymSalt",
    "ReportDay",
    "ReportMonthVisitor",
    "ReportRollupDay",
    "ReportSnapshot",
    "Schedule",
    "ScheduleRun",
    "SchedulerLease",
    "Screenshot",
    "SshSettings",
    "UsageCounter",
    "User",
    "user_offices",
    "Voucher",
    "VoucherBatch",
    "apscheduler_jobs",
]
