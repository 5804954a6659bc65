"""The real service: `winback serve` as a process on a free loopback port, over HTTP.

Setup is the real pipeline on a small synthetic log, run once per session for the service
tests (`served_template`: train with MLflow on SQLite, materialize the online store), served
from this module's own copy of its workdir. Then every API, the error cases, auth, batch/service
agreement, and a champion swap under continuous requests with zero failures.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from artifact.registry import CHAMPION
from artifact.tracking import resolve_store
from core.config import load_config
from features.engine import DuckDBEngine
from recall.campaign import decisions
from recall.policy import load_policy
from recall.scores import read_scores
from recall.selection import recall_list as recall_list_of
from serving.batch import score_all, write_scores
from serving.model_source import Serving, ServingSource
from serving.online_store import current_version, open_store, read_all, store_root
from serving.responses import RecallCache, recall_list
from serving.scoring import score_store_rows
from tests.serving.served import Server, copy_service, serve, template_config
from training.pipeline import train
from winback.cli.main import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
OPTED_OUT = [f"u{i:07d}" for i in range(1, 301)]


def serving_section(folder: Path) -> str:
    return f"{{max_batch: 50, poll_seconds: 0.5, recall_policy: {write_policy(folder)}}}"


def write_policy(folder: Path) -> Path:
    """The demo policy with an opt-out file, which the service must read as the CLI does."""
    opt_outs = folder / "opt_outs.csv"
    opt_outs.write_text("user_id,channel\n" + "".join(f"{user},email\n" for user in OPTED_OUT))
    text = (REPO / "configs" / "recall.yaml").read_text()
    path = folder / "recall.yaml"
    path.write_text(text.replace("opt_outs: null", f"opt_outs: {opt_outs}"))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, served_template: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("service")
    config_path = copy_service(served_template, folder, serving_section(folder))
    with serve(config_path, folder / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def store_rows(server: Server) -> pd.DataFrame:
    return read_all(current_version(store_root(server.config))).to_pandas()


def test_every_server_process_refuses_to_unpickle_models(server: Server) -> None:
    processes = server.processes()
    assert len(processes) >= 2  # the BentoML arbiter and its workers
    for process in processes:
        assert process.environ().get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION") == "false"


def test_probes_and_metrics_need_no_token(server: Server) -> None:
    with server.client(token=None) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_requests_without_the_token_are_refused(server: Server) -> None:
    with server.client(token=None) as client:
        response = client.post("/score", json={"user_ids": ["u0000001"]})
    assert response.status_code == 401
    with server.client(token="wrong") as client:
        assert client.post("/score", json={"user_ids": ["u0000001"]}).status_code == 401


def test_score_reports_every_user_in_order_with_unknown_ids_marked(
    server: Server, store_rows: pd.DataFrame
) -> None:
    active = store_rows[store_rows.status == "active"].user_id.head(3).tolist()
    lapsed = store_rows[store_rows.status == "lapsed"].user_id.head(1).tolist()
    asked = [*active, "no-such-user", *lapsed]
    with server.client() as client:
        response = client.post("/score", json={"user_ids": asked})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["user_id"] for r in results] == asked
    assert [r["status"] for r in results] == ["scored"] * 3 + ["unknown", "lapsed"]
    for result in results[:3]:
        assert 0 <= result["churn_probability"] <= 1
        assert 0 <= result["risk_percentile"] <= 100
        assert result["risk_band"] in {"low", "medium", "high", "critical"}
        assert len(result["reasons"]) == 3
        assert {"feature", "value", "contribution", "sentence"} <= set(result["reasons"][0])
        assert result["model_version"] == "1"
    assert results[3]["churn_probability"] is None


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels` (over every worker)."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(label in line for label in wanted)
    )


def test_metrics_show_what_was_served_per_status_band_and_model(
    server: Server, store_rows: pd.DataFrame
) -> None:
    """The live view: each answered user counted by status and band, each probability in the
    histogram, all labelled with the model version."""
    active = store_rows[store_rows.status == "active"].user_id.head(5).tolist()
    lapsed = store_rows[store_rows.status == "lapsed"].user_id.head(2).tolist()
    with server.client() as client:
        before = client.get("/metrics").text
        response = client.post("/score", json={"user_ids": [*active, *lapsed, "nobody"]})
        after = client.get("/metrics").text
    assert response.status_code == 200, response.text
    bands = Counter(r["risk_band"] for r in response.json()["results"][:5])

    def change(name: str, **labels: str) -> float:
        return metric_total(after, name, **labels) - metric_total(before, name, **labels)

    version = {"model_version": "1"}
    assert change("winback_churn_probability_count", **version) == 5
    for band, count in bands.items():
        assert change("winback_served_users_total", status="scored", band=band, **version) == count
    assert change("winback_served_users_total", status="lapsed", band="none", **version) == 2
    assert change("winback_served_users_total", status="unknown", band="none", **version) == 1


def test_the_store_scored_in_blocks_is_the_table_scored_at_once(server: Server) -> None:
    """Batch scoring holds one block of active rows at a time: blocks of any size (here a
    quarter-size first one, many small ones, a last one short) change no score, band, rank,
    reason or row order."""
    current = serving_now(server)
    rows = read_all(current.store.version).to_pandas()
    # A first block of a quarter of block_rows holds every row: one block.
    at_once = score_store_rows(current.model, rows.copy(), current.version, 4 * len(rows))
    in_blocks = score_store_rows(current.model, rows.copy(), current.version, block_rows=97)
    assert (rows.status == "active").sum() > 5 * 97
    pd.testing.assert_frame_equal(in_blocks, at_once)


def test_batch_scores_equal_service_scores(server: Server, store_rows: pd.DataFrame) -> None:
    batch = score_all(serving_now(server)).set_index("user_id")
    sample = store_rows[store_rows.status == "active"].user_id.head(40).tolist()
    with server.client() as client:
        results = client.post("/score", json={"user_ids": sample}).json()["results"]
    served = {r["user_id"]: r["churn_probability"] for r in results}
    np.testing.assert_allclose(
        [served[u] for u in sample], batch.loc[sample, "churn_probability"], rtol=1e-12
    )
    reasons = {r["user_id"]: r["reasons"] for r in results}
    assert [json.loads(batch.loc[u, "reasons"]) for u in sample] == [reasons[u] for u in sample]
    bands = {r["user_id"]: r["risk_band"] for r in results}
    assert batch.loc[sample, "risk_band"].tolist() == [bands[u] for u in sample]


def plain(value: object) -> object:
    """A JSON-ready Python value (numpy scalars have .item(); missing becomes null)."""
    if pd.isna(value):  # type: ignore[call-overload]
        return None
    return value.item() if hasattr(value, "item") else value


def test_posted_features_score_the_same_in_any_column_order(
    server: Server, store_rows: pd.DataFrame
) -> None:
    with server.client() as client:
        features = [f["name"] for f in client.get("/model").json()["features"]]
        row = store_rows[store_rows.status == "active"].iloc[0]
        posted = {name: plain(row[name]) for name in features}
        shuffled = dict(reversed(list(posted.items())))
        by_id = client.post("/score", json={"user_ids": [row.user_id]}).json()["results"][0]
        first, second = client.post("/score_features", json={"rows": [posted, shuffled]}).json()[
            "results"
        ]
    assert first["churn_probability"] == second["churn_probability"]
    assert first["churn_probability"] == pytest.approx(by_id["churn_probability"], rel=1e-12)


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/score", {"user_ids": "u1"}, "user_ids"),
        ("/score", {"user_ids": []}, "user_ids: give at least one"),
        ("/score", {"user_ids": [f"u{i}" for i in range(51)]}, "more than the maximum of 50"),
        ("/score", {"users": ["u1"]}, "user_ids"),
        (
            "/score_features",
            {"rows": [{"recency_days": 3, "bogus": 1}]},
            "unknown feature(s) bogus",
        ),
        ("/score_features", {"rows": [{"recency_days": "soon"}]}, "recency_days: must be a number"),
        ("/recall_list", {"limit": 0}, "limit: must be between 1"),
    ],
)
def test_bad_requests_get_400_naming_the_field(
    server: Server, path: str, body: dict[str, object], fragment: str
) -> None:
    with server.client() as client:
        response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.text


def test_nan_and_infinity_in_posted_features_are_rejected(server: Server) -> None:
    for token in ("NaN", "Infinity"):
        body = f'{{"rows": [{{"recency_days": {token}}}]}}'
        with server.client() as client:
            response = client.post(
                "/score_features", content=body, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 400, response.text
        assert "not a finite number" in response.text


def test_pickled_request_bodies_are_refused(server: Server) -> None:
    with server.client() as client:
        response = client.post(
            "/score",
            content=b"\x80\x04K\x01.",
            headers={"Content-Type": "application/vnd.bentoml+pickle"},
        )
    assert response.status_code == 415


def serving_now(server: Server) -> Serving:
    source = ServingSource(resolve_store(server.config), "svc-churn", open_store(server.config))
    source.refresh()
    assert source.current is not None
    return source.current


def test_without_a_policy_the_recall_list_is_the_ranking(server: Server) -> None:
    results = recall_list(serving_now(server), RecallCache(), 20)["results"]
    assert [r["rank"] for r in results] == list(range(1, 21))
    probabilities = [r["churn_probability"] for r in results]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(r["reasons"] for r in results)


def test_recall_list_returns_the_decisions_of_the_cli(server: Server, tmp_path: Path) -> None:
    scores, listed = tmp_path / "scores.parquet", tmp_path / "recall.csv"
    write_scores(score_all(serving_now(server)), scores)
    policy = server.config.serving.recall_policy
    assert policy is not None
    command = ["recall", "-c", str(server.config_path), "-p", policy]
    result = CliRunner().invoke(app, [*command, "--scores", str(scores), "--out", str(listed)])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(listed, dtype={"user_id": "str"})
    with server.client() as client:
        answer = client.post("/recall_list", json={"limit": 10_000}).json()
    served = pd.DataFrame(answer["results"])
    assert len(cli) > 20 and served.user_id.tolist() == cli.user_id.tolist()
    for column in ("group", "strategy", "channel", "priority", "why"):
        assert served[column].tolist() == cli[column].tolist(), column
    for column in ("cost", "expected_net_value", "churn_probability"):
        np.testing.assert_allclose(served[column], cli[column], rtol=1e-9)
    unrestricted = load_policy(policy).model_copy(update={"opt_outs": None})
    version = current_version(store_root(server.config))
    emailed = recall_list_of(decisions(read_scores(scores), read_all(version), unrestricted, {}))
    emailed = emailed[emailed.channel == "email"]
    assert emailed.user_id.isin(OPTED_OUT).any(), "the opt-out list must matter here"
    assert not served[served.channel == "email"].user_id.isin(OPTED_OUT).any()
    assert answer["campaign"]["treatment"] == (cli.group == "treatment").sum()
    assert answer["campaign"]["cost"] == pytest.approx(cli.cost.sum())
    at_risk = served[served.segment == "at_risk"]
    assert at_risk["rank"].notna().all() and at_risk.reasons.map(len).gt(0).all()


def register_uplift_champion(
    server: Server, store_rows: pd.DataFrame, strategy: str, folder: Path
) -> str:
    """Learn `strategy`'s uplift from a made-up campaign on the store's users (recent users
    respond, the others are put off) and register it; returns the champion's label."""
    from features.snapshots import catalog
    from features.spec import feature_set
    from uplift.config import UpliftBoosterConfig, UpliftConfig
    from uplift.fit import CampaignData, StrategyFit, fit_campaign, joined
    from uplift.registry import model_name, prefix_of
    from uplift.tracking import log_fit

    rng = np.random.default_rng(0)
    treated = rng.random(len(store_rows)) < 0.5
    effect = np.where(store_rows.recency_days < 20, 0.4, -0.2)
    returned = rng.random(len(store_rows)) < 0.4 + effect * treated
    data = CampaignData(
        id="earlier",
        date=pd.Timestamp(store_rows.cutoff.iloc[0]).date(),
        window_days=14,
        store_version="test",
        listed=pd.DataFrame(
            {
                "user_id": store_rows.user_id,
                "strategy": strategy,
                "group": np.where(treated, "treatment", "control"),
            }
        ),
        features=store_rows,
        returned=frozenset(store_rows.user_id[returned]),
    )
    settings = UpliftConfig(
        booster=UpliftBoosterConfig(n_estimators=50, min_child_samples=50),
        bootstrap_rounds=100,
        min_treated=100,
        min_control=100,
    )
    prefix = prefix_of(server.config)
    features = catalog(feature_set(server.config))
    (fit,) = fit_campaign(data, features, settings, lambda name: model_name(prefix, name))
    assert isinstance(fit, StrategyFit)
    store = resolve_store(server.config)
    logged = log_fit(store, "svc-uplift", fit, data, joined(data), settings, folder)
    assert logged.decision.promoted, logged.decision.reason
    return f"{logged.name} v{logged.version}"


def test_recall_list_follows_a_new_uplift_champion_as_the_cli_does(
    server: Server, store_rows: pd.DataFrame, tmp_path: Path
) -> None:
    label = register_uplift_champion(server, store_rows, "at_risk_coupon", tmp_path / "fit")
    deadline = time.monotonic() + 60
    with server.client() as client:
        while True:
            served = pd.DataFrame(
                client.post("/recall_list", json={"limit": 10_000}).json()["results"]
            )
            if (served.rule == "uplift").any() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    coupon = served[served.strategy == "at_risk_coupon"]
    assert len(coupon) and set(coupon.rule) == {"uplift"} and set(coupon.uplift_model) == {label}
    assert (coupon.uplift > 0).all()
    assert set(served.rule[served.strategy != "at_risk_coupon"]) <= {"save_rate"}
    scores, listed = tmp_path / "scores.parquet", tmp_path / "recall.csv"
    write_scores(score_all(serving_now(server)), scores)
    policy = server.config.serving.recall_policy
    assert policy is not None
    command = ["recall", "-c", str(server.config_path), "-p", policy]
    result = CliRunner().invoke(app, [*command, "--scores", str(scores), "--out", str(listed)])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(listed, dtype={"user_id": "str"})
    assert served.user_id.tolist() == cli.user_id.tolist()
    for column in ("group", "strategy", "rule", "why"):
        assert served[column].tolist() == cli[column].tolist(), column
    np.testing.assert_allclose(served.uplift.astype(float), cli.uplift, rtol=1e-9)


def test_model_endpoint_describes_the_champion(server: Server) -> None:
    with server.client() as client:
        info = client.get("/model").json()
    assert info["name"] == "svc-churn" and info["version"] == "1"
    assert CHAMPION in info["aliases"]
    assert info["train_cutoffs"] and info["test_cutoff"]
    assert "roc_auc" in str(info["metrics"])


def test_a_new_champion_is_swapped_in_under_load_without_failed_requests(
    server: Server, store_rows: pd.DataFrame, served_template: Path
) -> None:
    users = store_rows[store_rows.status == "active"].user_id.head(5).tolist()
    failures: list[str] = []
    versions: set[str] = set()
    stop = threading.Event()

    def hammer() -> None:
        with server.client() as client:
            while not stop.is_set():
                response = client.post("/score", json={"user_ids": users})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    versions.add(response.json()["results"][0]["model_version"])

    workers = [threading.Thread(target=hammer) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        config = load_config(template_config(served_template, server.config_path.parent, seed=7))
        store = resolve_store(config)
        result = train(config, DuckDBEngine(), store)
        store.client().set_registered_model_alias("svc-churn", CHAMPION, result.version)
        with server.client() as client:
            reload = client.post("/admin/reload", json={})
        assert reload.status_code == 200, reload.text
        time.sleep(1.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == []
    assert versions == {"1", "2"}
