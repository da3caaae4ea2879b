"""What report requests carry and what the API answers."""

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from controller.schemas import Id, Input, Output
from controller.validation import Blank


class ReportQuery(Input):
    """A month, or a range of days (Europe/Warsaw), and optionally one office."""

    month: Annotated[str | None, Blank] = Field(
        None, max_length=7, description="YYYY-MM; without month or since/until: last month."
    )
    since: Annotated[date | None, Blank] = Field(None, description="First day (with until).")
    until: Annotated[date | None, Blank] = Field(None, description="Last day, included.")
    office_id: Annotated[Id | None, Blank] = None


class ExportQuery(ReportQuery):
    """A report query and the file to make of it."""

    format: Literal["xlsx", "csv"] = "xlsx"
    view: Literal["offices", "devices", "months"] = Field("offices", description="CSV only.")
    decimal_comma: Annotated[bool, Blank] = Field(
        False, description="CSV only: 1,5 instead of 1.5, and ; between fields."
    )


class Figures(Output):
    """The indicators of a place and period (see the definitions in the XLSX export)."""

    unique_users: int
    sessions: int
    session_hours: float
    data_gb: float
    peak_users: int | None
    pc_sessions: int
    pc_hours: float
    infomat_sessions: int
    availability: float | None = Field(description="Percent; null without devices to measure.")
    active_access_points: int


class RowOut(Output):
    """An office's or device's figures; correction: what data arriving late adds."""

    office_id: int
    office: str
    device_id: int | None
    device: str
    kind: str
    figures: Figures
    correction: dict[str, float] | None


class MonthOut(Output):
    """The offices together in one month."""

    month: str
    frozen: bool
    figures: Figures
    correction: dict[str, float] | None


class ReportOut(Output):
    """A report: per office, per device, per month, and the total."""

    first_day: date
    last_day: date
    time_zone: str
    frozen: bool = Field(description="Read from frozen monthly snapshots.")
    total: Figures
    offices: list[RowOut]
    devices: list[RowOut]
    months: list[MonthOut]
