"""The index the /metrics scrape counts devices by.

Devices by office, kind and state are counted from this index alone, without reading the
rows or sorting them; heartbeats do not change these columns, so it costs them nothing.
"""

from sqlalchemy import Index

from controller.devices.models import Device

DEVICE_COUNTS = Index("ix_devices_office_id_kind_state", Device.office_id, Device.kind,
                      Device.state)  # fmt: skip
