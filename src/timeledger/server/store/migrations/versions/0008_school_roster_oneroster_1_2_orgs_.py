"""School roster (OneRoster 1.2): orgs, sessions, courses, classes, users, roles, enrollments; dashboard accounts may name a roster teacher."""
# ruff: noqa: E501
# Revision 0008, after 0007; generated 2026-11-30 15:07:05.297548.

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roster_academic_sessions',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('start_date', sa.String(length=10), nullable=False),
    sa.Column('end_date', sa.String(length=10), nullable=False),
    sa.Column('parent_sourced_id', sa.String(length=255), nullable=True),
    sa.Column('school_year', sa.String(length=4), nullable=False),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    op.create_table('roster_classes',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('grades', sa.Text(), nullable=True),
    sa.Column('course_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('class_code', sa.String(length=255), nullable=True),
    sa.Column('class_type', sa.String(length=20), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('school_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('term_sourced_ids', sa.Text(), nullable=False),
    sa.Column('subjects', sa.Text(), nullable=True),
    sa.Column('subject_codes', sa.Text(), nullable=True),
    sa.Column('periods', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    with op.batch_alter_table('roster_classes', schema=None) as batch_op:
        batch_op.create_index('ix_roster_classes_school', ['school_sourced_id'], unique=False)

    op.create_table('roster_courses',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('school_year_sourced_id', sa.String(length=255), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('course_code', sa.String(length=255), nullable=True),
    sa.Column('grades', sa.Text(), nullable=True),
    sa.Column('org_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('subjects', sa.Text(), nullable=True),
    sa.Column('subject_codes', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    op.create_table('roster_enrollments',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('class_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('school_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('user_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('primary', sa.Boolean(), nullable=True),
    sa.Column('begin_date', sa.String(length=10), nullable=True),
    sa.Column('end_date', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    with op.batch_alter_table('roster_enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_roster_enrollments_class', ['class_sourced_id'], unique=False)
        batch_op.create_index('ix_roster_enrollments_user', ['user_sourced_id'], unique=False)

    op.create_table('roster_orgs',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=True),
    sa.Column('parent_sourced_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    op.create_table('roster_user_roles',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('user_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('role_type', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('org_sourced_id', sa.String(length=255), nullable=False),
    sa.Column('begin_date', sa.String(length=10), nullable=True),
    sa.Column('end_date', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    with op.batch_alter_table('roster_user_roles', schema=None) as batch_op:
        batch_op.create_index('ix_roster_user_roles_user', ['user_sourced_id'], unique=False)

    op.create_table('roster_users',
    sa.Column('sourced_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date_last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_json', sa.Text(), nullable=True),
    sa.Column('enabled_user', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=True),
    sa.Column('user_ids', sa.Text(), nullable=True),
    sa.Column('given_name', sa.String(length=255), nullable=False),
    sa.Column('family_name', sa.String(length=255), nullable=False),
    sa.Column('middle_name', sa.String(length=255), nullable=True),
    sa.Column('identifier', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_lower', sa.String(length=320), nullable=True),
    sa.Column('sms', sa.String(length=50), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('agent_sourced_ids', sa.Text(), nullable=True),
    sa.Column('grades', sa.Text(), nullable=True),
    sa.Column('user_master_identifier', sa.String(length=255), nullable=True),
    sa.Column('preferred_given_name', sa.String(length=255), nullable=True),
    sa.Column('preferred_middle_name', sa.String(length=255), nullable=True),
    sa.Column('preferred_family_name', sa.String(length=255), nullable=True),
    sa.Column('primary_org_sourced_id', sa.String(length=255), nullable=True),
    sa.Column('pronouns', sa.String(length=100), nullable=True),
    sa.Column('role', sa.String(length=50), nullable=True),
    sa.PrimaryKeyConstraint('sourced_id')
    )
    with op.batch_alter_table('roster_users', schema=None) as batch_op:
        batch_op.create_index('ix_roster_users_email_lower', ['email_lower'], unique=False)
        batch_op.create_index('ix_roster_users_role', ['role'], unique=False)

    with op.batch_alter_table('dashboard_admins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teacher_sourced_id', sa.String(length=255), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('dashboard_admins', schema=None) as batch_op:
        batch_op.drop_column('teacher_sourced_id')

    with op.batch_alter_table('roster_users', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_users_role')
        batch_op.drop_index('ix_roster_users_email_lower')

    op.drop_table('roster_users')
    with op.batch_alter_table('roster_user_roles', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_user_roles_user')

    op.drop_table('roster_user_roles')
    op.drop_table('roster_orgs')
    with op.batch_alter_table('roster_enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_enrollments_user')
        batch_op.drop_index('ix_roster_enrollments_class')

    op.drop_table('roster_enrollments')
    op.drop_table('roster_courses')
    with op.batch_alter_table('roster_classes', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_classes_school')

    op.drop_table('roster_classes')
    op.drop_table('roster_academic_sessions')
