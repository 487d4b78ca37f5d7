"""The platform's schema as one explicit list: every table any layer keeps rows in."""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store import (
    access_tables,
    flag_reviews,
    gradebook_tables,
    projection_tables,
    roster_tables,
    schema,
)

# The store's own tables, the projections the pipeline rebuilds, the course registry, the
# dashboard's access tables and the school roster (OneRoster import). Migrations, drift checks and
# `db revision` compare against this.
ALL_TABLES: tuple[sa.Table, ...] = (
    schema.events,
    schema.interned_texts,
    schema.jobs,
    schema.projector_positions,
    schema.api_clients,
    schema.access_tokens,
    schema.platform_settings,
    schema.compression_dictionaries,
    schema.compaction_progress,
    *projection_tables.PROJECTION_TABLES,
    projection_tables.course_registry,
    access_tables.dashboard_admins,
    access_tables.dashboard_share_links,
    access_tables.dashboard_sessions,
    *roster_tables.ROSTER_TABLES,
    flag_reviews.flag_reviews,
    *gradebook_tables.GRADEBOOK_TABLES,
)

# Every table above is defined on this one MetaData; a test holds the two equal.
metadata: sa.MetaData = schema.metadata
