"""A course's gradebook line items with how many results each holds and their mean score, for the
course page: read from learner activities and the written results, never from every attempt."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.gradebook import score_micro
from timeledger.server.queries.figures import mean_score
from timeledger.server.queries.gradebook_written import written_line_items_of
from timeledger.server.store.gradebook_tables import written_results
from timeledger.server.store.projection_tables import gradebook_line_items, learner_activities


def course_activities(conn: sa.Connection, course_id: str) -> list[dict[str, Any]]:
    """The course's line items in the gradebook's order (projected ones oldest first, then
    those written through the OneRoster gradebook API): [{activity_id, activity_name, results,
    mean_score}], where `results` counts the results the gradebook lists for the item (every
    learner's attempts and the active written results) and `mean_score` is the gradebook's
    mean over those with a score. Bounded by learners × activities, not by attempts."""
    a = learner_activities.c
    projected = {row.activity_id: row for row in conn.execute(
        sa.select(a.activity_id, sa.func.sum(a.results).label("results"),
                  sa.func.sum(a.scored_results).label("scored"),
                  sa.func.sum(a.score_micro_sum).label("micro"))
        .where(a.course_id == course_id).group_by(a.activity_id))}
    items = []
    for item in conn.execute(sa.select(gradebook_line_items).where(
            gradebook_line_items.c.course_id == course_id).order_by(
            gradebook_line_items.c.first_seen, gradebook_line_items.c.activity_id)):
        sums = projected.get(item.activity_id)
        items.append({"activity_id": item.activity_id, "activity_name": item.activity_name,
                      "sourced_id": item.sourced_id,
                      "counts": [int(sums.results), int(sums.scored), int(sums.micro)]
                      if sums is not None else [0, 0, 0]})
    projected_ids = {item["sourced_id"] for item in items}
    for record in written_line_items_of(conn, course_id):
        if record.sourced_id not in projected_ids:
            items.append({"activity_id": record.sourced_id, "activity_name": record.title,
                          "sourced_id": record.sourced_id, "counts": [0, 0, 0]})
    by_id = {item["sourced_id"]: item for item in items if item["sourced_id"] is not None}
    w = written_results.c
    if by_id:
        for line_item, score in conn.execute(
                sa.select(w.line_item_sourced_id, w.score)
                .where(w.status == "active", w.line_item_sourced_id.in_(sorted(by_id)))):
            counts = by_id[line_item]["counts"]
            counts[0] += 1
            if score is not None:
                counts[1] += 1
                counts[2] += score_micro(score)
    return [{"activity_id": item["activity_id"], "activity_name": item["activity_name"],
             "results": item["counts"][0],
             "mean_score": mean_score(item["counts"][2], item["counts"][1])} for item in items]
