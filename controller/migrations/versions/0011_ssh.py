"""ssh settings and bulk jobs

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 05:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade():
    op.create_table(
        "ssh_settings",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("auth", _enum("sshauth", "controller", "device"), nullable=False),
        sa.Column("device_key", sa.Text(), nullable=True),
        sa.Column("host_key", sa.Text(), nullable=True),
        sa.Column("host_key_fingerprint", sa.String(length=100), nullable=True),
        sa.Column("pinned_by", sa.String(length=254), nullable=True),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mismatch_fingerprint", sa.String(length=100), nullable=True),
        sa.Column("mismatch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_ssh_settings_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_ssh_settings")),
    )
    op.create_table(
        "ssh_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            _enum("jobstate", "queued", "running", "finished", "cancelled", "failed"),
            nullable=False,
        ),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alive_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssh_jobs")),
    )
    with op.batch_alter_table("ssh_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssh_jobs_state"), ["state"], unique=False)
    op.create_table(
        "ssh_job_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("device_name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column(
            "state",
            _enum("hoststate", "queued", "running", "ok", "failed", "timeout", "cancelled"),
            nullable=False,
        ),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_ssh_job_hosts_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["ssh_jobs.id"],
            name=op.f("fk_ssh_job_hosts_job_id_ssh_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssh_job_hosts")),
    )
    with op.batch_alter_table("ssh_job_hosts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssh_job_hosts_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ssh_job_hosts_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ssh_job_hosts_office_id"), ["office_id"], unique=False)


def downgrade():
    with op.batch_alter_table("ssh_job_hosts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssh_job_hosts_office_id"))
        batch_op.drop_index(batch_op.f("ix_ssh_job_hosts_job_id"))
        batch_op.drop_index(batch_op.f("ix_ssh_job_hosts_device_id"))
    op.drop_table("ssh_job_hosts")
    with op.batch_alter_table("ssh_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssh_jobs_state"))
    op.drop_table("ssh_jobs")
    op.drop_table("ssh_settings")
