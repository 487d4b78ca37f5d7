"""OneRoster gradebook records written through the API (PUT/POST), kept apart from projections.

Not projections: a line item or result an app writes (the official SDK's completion entry, a
teacher's grade) is a record of its own, so `rebuild` keeps these tables. They are keyed by the
writer's `sourcedId`; a record with the id of a projected line item or result stands in for it.
Fields without a column of their own (learningObjectiveSet, ...) stay in `extra_json`.
"""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.schema import UtcDateTime, metadata

SourcedId = sa.String(255)

written_line_items = sa.Table(
    "gradebook_written_line_items", metadata,
    sa.Column("sourced_id", SourcedId, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),  # active or tobedeleted
    sa.Column("date_last_modified", UtcDateTime(), nullable=False),  # when the platform stored it
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.String(2000)),
    sa.Column("class_sourced_id", SourcedId),
    sa.Column("course_sourced_id", SourcedId),
    sa.Column("school_sourced_id", SourcedId),
    sa.Column("component_sourced_id", SourcedId),
    sa.Column("component_resource_sourced_id", SourcedId),
    sa.Column("parent_sourced_id", SourcedId),
    sa.Column("score_scale_sourced_id", SourcedId),
    sa.Column("result_value_min", sa.Float),
    sa.Column("result_value_max", sa.Float),
    sa.Column("metadata_json", sa.Text),
    sa.Column("extra_json", sa.Text),
)

written_results = sa.Table(
    "gradebook_written_results", metadata,
    sa.Column("sourced_id", SourcedId, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("date_last_modified", UtcDateTime(), nullable=False),
    sa.Column("line_item_sourced_id", SourcedId, nullable=False),
    sa.Column("student_sourced_id", SourcedId, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("text_score", sa.String(300)),
    sa.Column("score_date", sa.String(40), nullable=False),  # as written: the SDK compares it
    sa.Column("score_time", UtcDateTime(), nullable=False),  # score_date read, to sort and filter
    sa.Column("score_status", sa.String(30), nullable=False),
    sa.Column("score_percentile", sa.Float),
    sa.Column("comment", sa.String(2000)),
    sa.Column("metadata_json", sa.Text),
    sa.Column("extra_json", sa.Text),
)
sa.Index("ix_gradebook_written_results_line_item", written_results.c.line_item_sourced_id)
sa.Index("ix_gradebook_written_results_student", written_results.c.student_sourced_id)

GRADEBOOK_TABLES: tuple[sa.Table, ...] = (written_line_items, written_results)
