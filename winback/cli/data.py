"""`validate` and `generate`: getting trustworthy events into the workdir."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.config import InputError
from winback.cli.common import (
    ConfigOption,
    EngineOption,
    open_config,
    open_engine,
    parse_date,
    user_errors,
)
from winback.cli.console import console, working

if TYPE_CHECKING:
    import pandas as pd

    from features.synthetic_campaign import EffectRule


def validate(
    config: ConfigOption,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(help="Run time for the future-timestamp check (default: now, UTC)"),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Check the sources, quarantine unusable rows and write the canonical tables."""
    from features.loading import prepare
    from winback.cli.render import print_prepared

    with user_errors():
        cfg = open_config(config)
        chosen = open_engine(cfg.engine, engine)
        with working("validating") as say:
            prepared = prepare(cfg, chosen, run_time=as_of, force=True, progress=say)
        print_prepared(prepared)


def generate(
    out: Annotated[Path, typer.Option(help="Folder for events/users/truth.parquet")],
    users: Annotated[int, typer.Option(min=1, help="Number of users")] = 10_000,
    days: Annotated[int, typer.Option(min=1, help="Length of the log in days")] = 365,
    seed: Annotated[int, typer.Option(help="Same seed, same files")] = 0,
    start: Annotated[str, typer.Option(help="First day of the log (YYYY-MM-DD)")] = "2025-01-01",
    drift: Annotated[
        str | None,
        typer.Option(
            help="Make the log drift (saved as drift.json): churn-rise (churn base"
            " rate 2.6x as high in the last quarter as in the first, later signups shift"
            " to casual and"
            " bargain users and the paid channel), mix-shift (only that shift of the mix);"
            " from --drift-from on: segment-drop (the free plan's activity falls to"
            " 30%) or new-channel (every signup comes from a new channel, `influencer`)",
            show_default=False,
        ),
    ] = None,
    drift_from: Annotated[
        str | None,
        typer.Option(
            help="Day the step of segment-drop or new-channel happens (YYYY-MM-DD)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a synthetic event log with planted churn dynamics and its ground truth."""
    import dataclasses

    from features import synthetic
    from features.synthetic import DRIFT_PRESETS, SyntheticSpec
    from winback.cli.render import print_generated

    if drift is not None and drift not in DRIFT_PRESETS:
        raise typer.BadParameter(
            f"{drift!r}: expected one of {', '.join(DRIFT_PRESETS)}", param_hint="--drift"
        )
    preset = None if drift is None else DRIFT_PRESETS[drift]
    stepped = preset is not None and preset.stepped
    if stepped != (drift_from is not None):
        needs = f"--drift {drift} needs a date" if stepped else "only a stepped --drift takes it"
        raise typer.BadParameter(f"{needs} (segment-drop, new-channel)", param_hint="--drift-from")
    if preset is not None and drift_from is not None:
        preset = dataclasses.replace(preset, since=parse_date(drift_from, "--drift-from"))
    try:
        spec = SyntheticSpec(
            users=users, days=days, seed=seed, start=parse_date(start, "--start"), drift=preset
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--drift-from") from None
    from features.synthetic_feed import forget_planted

    with console.status(f"generating {users:,} users x {days} days"):
        log = synthetic.generate(spec)
        paths = synthetic.write(log, out)
        forget_planted(out)
    print_generated(log, paths)


def _uplifts(values: list[str]) -> dict[str, float]:
    uplifts = {}
    for value in values:
        name, _, rate = value.partition("=")
        try:
            uplifts[name] = float(rate)
        except ValueError:
            raise typer.BadParameter(
                f"{value!r}: expected STRATEGY=UPLIFT, e.g. at_risk_coupon=0.1",
                param_hint="--uplift",
            ) from None
    return uplifts


def simulate_campaign(
    data: Annotated[Path, typer.Option(help="Folder `generate` wrote; rewritten in place")],
    campaign: Annotated[Path, typer.Option(help="The recall.csv the campaign was sent from")],
    window_days: Annotated[int, typer.Option(min=1, help="Days after the campaign date")],
    uplift: Annotated[
        list[str] | None,
        typer.Option(help="STRATEGY=UPLIFT, repeatable; strategies not named get none"),
    ] = None,
    effects: Annotated[
        Path | None,
        typer.Option(
            help="YAML list of effect rules on features as of the campaign date, first match "
            "wins, unmatched users get --uplift. share s > 0: that share of the treated who "
            "would stay away come back; s < 0: of those who would come back, stay away. "
            "- {share: 0.6, when: {gap_current_ratio: [2, 4]}} "
            "- {share: -0.3, when: {channel: paid}, strategy: S}",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Dataset config whose online store holds the features the rules read",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Which treated users come back")] = 0,
) -> None:
    """Plant a known treatment effect of a sent campaign into a generated log (for `review`);
    the truth per listed user goes to <data>/campaigns/<campaign id>.parquet."""
    from features import synthetic
    from features.synthetic_campaign import CampaignSpec, plant_campaign
    from recall.campaign_file import read_campaign
    from winback.cli.render import print_planted

    with user_errors():
        listed = read_campaign(campaign)
        rules = _effect_rules(effects) if effects else ()
        try:
            spec = CampaignSpec(
                listed.date, window_days, _uplifts(uplift or []), seed, effects=rules
            )
        except ValueError as error:
            raise InputError(str(error)) from None
        features = _campaign_features(config, listed.date) if spec.needs_features else None
        try:
            planted = plant_campaign(synthetic.read(data), listed.users, spec, features)
        except ValueError as error:
            raise InputError(str(error)) from None
        synthetic.write(planted.log, data)
        truth = data / "campaigns" / f"{listed.id}.parquet"
        truth.parent.mkdir(parents=True, exist_ok=True)
        planted.outcomes.to_parquet(truth, index=False)
    print_planted(planted.outcomes, spec)
    console.print(f"truth per listed user: {truth}")


def _effect_rules(path: Path) -> tuple[EffectRule, ...]:
    from core.config import parse_yaml, read_text
    from features.synthetic_campaign import parse_effects

    try:
        return parse_effects(parse_yaml(read_text(path, "effects"), path), str(path))
    except ValueError as error:
        raise InputError(str(error)) from None


def _campaign_features(config: Path | None, day: dt.date) -> pd.DataFrame:
    """The online store's features as of the campaign (`uplift fit` reads the same)."""
    if config is None:
        raise InputError("--effects with feature rules needs --config (its online store)")
    from serving.online_store import read_all, store_root, version_as_of

    return read_all(version_as_of(store_root(open_config(config)), day)).to_pandas()


def simulate_feed(
    data: Annotated[Path, typer.Option(help="Folder `generate` wrote; planted into in place")],
    feed: Annotated[Path, typer.Option(help="Folder the cycle's config reads events from")],
    until: Annotated[str, typer.Option(help="Publish every day before this one (YYYY-MM-DD)")],
    outbox: Annotated[
        Path | None,
        typer.Option(help="The cycle's outbox folder: plant the effect of what it sent"),
    ] = None,
    window_days: Annotated[int, typer.Option(min=1, help="Days a planted return falls in")] = 28,
    uplift: Annotated[
        list[str] | None,
        typer.Option(help="STRATEGY=UPLIFT, repeatable; strategies not named get none"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Which treated users come back")] = 0,
) -> None:
    """Feed a generated log to a daily cycle one day at a time, planting a known effect of
    each day's contacts (read from the cycle's outbox) before the days after it are fed."""
    from cycle.simulated_feed import feed as feed_days
    from winback.cli.render import print_fed

    end = parse_date(until, "--until")
    effect = _uplifts(uplift or [])
    with user_errors():
        try:
            fed = feed_days(data, feed, end, outbox, window_days, effect, seed)
        except ValueError as error:
            raise InputError(str(error)) from None
    print_fed(fed.paths, fed.planted, end)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(generate)
    app.command("simulate-campaign")(simulate_campaign)
    app.command("simulate-feed")(simulate_feed)
