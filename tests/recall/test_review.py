"""The review: uplift arithmetic per strategy, the report files, MLflow, and feeding measured
save rates back into a policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from artifact.tracking import TrackingStore
from recall.campaign_file import CampaignList, read_campaign, write_recall_list
from recall.contacts import read_contacts, read_opt_outs
from recall.feedback import update_policy
from recall.policy import load_policy
from recall.report import write_report
from recall.review import ALL, Review, review
from recall.selection import decide
from recall.tracking import log_review
from tests.recall.builders import policy, users
from tests.tracking_seed import seeded

DATE = dt.date(2025, 9, 1)
REPO = Path(__file__).resolve().parents[2]


def campaign(groups: dict[str, tuple[int, int, int, int]]) -> tuple[CampaignList, set[str]]:
    """strategy -> (treated, treated who returned, control, control who returned)."""
    rows, returned = [], set()
    for strategy, (n_t, back_t, n_c, back_c) in groups.items():
        for group, n, back in (("treatment", n_t, back_t), ("control", n_c, back_c)):
            for i in range(n):
                user = f"{strategy}-{group}-{i}"
                cost = 2.0 if group == "treatment" else 0.0
                rows.append((user, group, strategy, "email", cost, 50.0))
                if i < back:
                    returned.add(user)
    columns = ["user_id", "group", "strategy", "channel", "cost", "user_value"]
    frame = pd.DataFrame(rows, columns=columns).assign(campaign_id="c1", campaign_date=DATE)
    return CampaignList(id="c1", date=DATE, users=frame), returned


@pytest.fixture
def result() -> Review:
    listed, returned = campaign({"works": (400, 200, 400, 120), "nothing": (300, 90, 300, 90)})
    return review(listed, returned, window_days=21, observed_until=DATE + dt.timedelta(days=30))


def test_uplift_saved_users_cost_and_roi_per_strategy(result: Review) -> None:
    works = result.table.set_index("strategy").loc["works"]
    assert (works.treated, works.control) == (400, 400)
    assert np.isclose(works.uplift, 0.5 - 0.3) and works.ci_low > 0 and works.significant
    assert np.isclose(works.saved_users, 0.2 * 400)
    assert np.isclose(works.cost_per_saved, 800 / 80)
    assert np.isclose(works.roi, (80 * 50 - 800) / 800)
    assert np.isclose(works.measured_save_rate, 0.2 / 0.7)  # uplift / share staying away
    nothing = result.table.set_index("strategy").loc["nothing"]
    assert nothing.uplift == 0 and not nothing.significant and np.isnan(nothing.cost_per_saved)
    pooled = result.table.set_index("strategy").loc[ALL]
    assert (pooled.treated, pooled.control) == (700, 700) and result.complete


def test_report_has_both_charts_and_lists_each_strategy(result: Review, tmp_path: Path) -> None:
    files = write_report(result, tmp_path / "report")
    assert [path.name for path in files.charts] == ["uplift.png", "return_rates.png"]
    for chart in files.charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000
    markdown, html = files.markdown.read_text(), files.html.read_text()
    for strategy in ("works", "nothing", ALL):
        assert f"| {strategy} |" in markdown and f"<td>{strategy}</td>" in html
    assert "![uplift](uplift.png)" in markdown and '<img src="uplift.png"' in html
    assert pd.read_csv(files.numbers).strategy.tolist() == ["nothing", "works", ALL]


def test_an_unfinished_window_is_flagged(tmp_path: Path) -> None:
    listed, returned = campaign({"works": (10, 5, 10, 3)})
    early = review(listed, returned, window_days=21, observed_until=DATE + dt.timedelta(days=7))
    assert not early.complete
    assert "window is not over yet" in write_report(early, tmp_path).markdown.read_text()


def test_measured_rates_go_into_a_new_policy_file_next_to_the_old(tmp_path: Path) -> None:
    original = tmp_path / "recall.yaml"
    text = (REPO / "configs" / "recall.yaml").read_text()
    original.write_text(text)
    listed, returned = campaign(
        {
            "vip_call_back": (400, 200, 400, 120),
            "onboarding": (300, 90, 300, 90),
            "gone": (300, 200, 300, 50),
        }
    )
    result = review(listed, returned, window_days=21, observed_until=DATE)
    update = update_policy(original, result)
    assert update is not None and update.path == tmp_path / "recall.reviewed-c1.yaml"
    assert original.read_text() == text
    assert set(update.updated) == {"vip_call_back"} and update.not_in_policy == ["gone"]
    reloaded = {s.name: s for s in load_policy(update.path).strategies}
    assert np.isclose(reloaded["vip_call_back"].expected_save_rate, 0.2 / 0.7, atol=1e-4)
    assert reloaded["onboarding"].measured is None
    assert reloaded["vip_call_back"].measured.campaign == "c1"  # type: ignore[union-attr]


def test_nothing_significant_means_no_policy_update(tmp_path: Path) -> None:
    listed, returned = campaign({"vip_call_back": (50, 10, 50, 10)})
    result = review(listed, returned, window_days=21, observed_until=DATE)
    assert update_policy(REPO / "configs" / "recall.yaml", result) is None


def test_the_recall_list_round_trips_through_csv(tmp_path: Path) -> None:
    decisions = decide(users(500), policy(), read_contacts(None), read_opt_outs(None), {})
    listed = write_recall_list(decisions, tmp_path / "recall.csv")
    back = read_campaign(tmp_path / "recall.csv")
    assert (back.id, back.date) == ("test-campaign", DATE)
    assert back.users.user_id.tolist() == listed.user_id.tolist()


@pytest.mark.slow
def test_a_review_is_logged_as_its_own_mlflow_run(result: Review, tmp_path: Path) -> None:
    files = write_report(result, tmp_path / "report")
    store = TrackingStore(
        f"sqlite:///{seeded(tmp_path) / 'mlflow.db'}", (tmp_path / "art").as_uri()
    )
    run_id = log_review(result, files, store, "demo-reviews")
    run = mlflow.MlflowClient(store.uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["campaign_id"] == "c1"
    assert np.isclose(run.data.metrics["uplift.works"], 0.2)
    assert "ci_low.all" in run.data.metrics
    stored = {path.name for path in (tmp_path / "art").rglob("*.png")}
    assert stored == {"uplift.png", "return_rates.png"}
