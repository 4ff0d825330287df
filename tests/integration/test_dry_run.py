"""A dry run of the designed shop's day: everything is planned and explained, nothing is delivered.

Its own file so that the test runners can run it beside the nightly run's test (they share the design)."""

from __future__ import annotations

import duckdb

from tests.integration.test_nightly_run import D, _outbox


def test_dry_run_plans_but_delivers_nothing(designed) -> None:
    env, data, expected = designed
    result = env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), "--dry-run")
    assert "dry run: nothing was delivered" in result.stdout
    assert _outbox(env, campaign_id=None) == []
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        planned = dict(
            con.execute(
                "select customer_id, channel from sends.fct_planned_sends where as_of_date = ? and state = 'scheduled'"
                " and campaign_id = 'repurchase_reminder'",
                [D],
            ).fetchall()
        )
        reasons = dict(
            con.execute(
                "select customer_id, coalesce(reason, decision) from sends.fct_send_decisions where as_of_date = ?"
                " and campaign_id = 'repurchase_reminder'",
                [D],
            ).fetchall()
        )
    assert planned == expected
    assert reasons["c05"] == "holdout"  # in the audience (D cannot see its later order), then held out
    assert reasons["c02"] == reasons["c04"] == "no_consent"
