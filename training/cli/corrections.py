"""``feedback corrections count|list|check|spot-check|purge|delete|backup``: the corrections store from the shell.

The store holds customers' words (see SECURITY.md), so the two commands that delete only
count what they would remove unless ``--yes`` is given, and print counts and ids, never
texts. ``list`` shows texts because that is what it is for. Deleting reaches only the store:
exports and backups made earlier hold their own copies and must be deleted by hand.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any

from client.core import paths as user_paths
from client.core.channels import channel_name, channel_verdicts, load_channels
from client.core.corrections import Correction, CorrectionsStore, Erasure, expired
from client.core.errors import DataError
from client.core.source_temperature import SourceCalibration, calibrate
from client.core.spot_check import by_source, report_of, spot_check_groups
from training import config as cfg
from training.cli._common import add_command

SHOWN_IDS = 20  # a dry run names this many ids, then says how many more


def _store(config: cfg.CorrectionsConfig) -> CorrectionsStore:
    """The existing store: a mistyped path must not become a new empty store that "matches nothing"."""
    if not config.db.exists():
        raise DataError(f"{config.db}: no corrections store here", "check --db or FEEDBACK_CORRECTIONS_DB; the app creates the store at the first correction")
    return CorrectionsStore(config.db)


def count(args: argparse.Namespace, config: cfg.CorrectionsConfig) -> int:
    counts = _store(config).counts()
    if args.json:
        print(json.dumps({"store": str(config.db), "total": counts.total, "pending": counts.pending, "consumed": counts.consumed}))
    else:
        print(f"{counts.total} correction(s) in {config.db}: {counts.pending} pending, {counts.consumed} consumed by a promoted version")
    return 0


def list_corrections(args: argparse.Namespace, config: cfg.CorrectionsConfig) -> int:
    rows = _store(config).all(pending_only=args.pending)
    if args.json:
        for c in rows:
            print(json.dumps(c.to_dict(), ensure_ascii=False))
        return 0
    print(f"{'id':>6}  {'saved':<25} {'kind':<12} {'predicted':<16} {'final':<16} {'used by':<7} text")
    for c in rows:
        text = c.text.replace("\n", " ")
        print(f"{c.id:>6}  {c.created_at:<25} {c.kind:<12} {c.predicted_label or '-':<16} {c.final_label:<16} {c.consumed_by or '-':<7} {text[:60] + ('…' if len(text) > 60 else '')}")
    return 0


def check(_args: argparse.Namespace, config: cfg.CorrectionsConfig) -> int:
    store = _store(config)
    problems = store.check()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {config.db}: restore your latest backup (see docs/RELIABILITY.md)")
        return 1
    print(f"ok: {config.db} ({store.counts().total} corrections)")
    return 0


def spot_check(args: argparse.Namespace, config: cfg.CorrectionsConfig) -> int:
    """Each source's spot checks: how often the model was right against what it claimed (no customer text)."""
    corrections = _store(config).all()
    if args.channel is not None:
        return _channel_report(args.channel, corrections, args.json)
    reports = by_source(corrections)
    groups = spot_check_groups(corrections)
    if args.source is not None:
        reports = {key: r for key, r in reports.items() if key[0] == args.source}
    fits = {key: _calibration(groups[key]) for key in reports}
    if args.json:
        for (source, version), r in reports.items():
            fit = fits[(source, version)]
            print(json.dumps({
                "source": source, "model_version": version, "checked": r.checked, "right": r.right, "accuracy": round(r.accuracy, 4),
                "low": round(r.low, 4), "high": round(r.high, 4), "mean_confidence": round(r.mean_confidence, 4),
                "calibration": r.calibration, "mistakes_flagged": r.mistakes_flagged, "mistakes_flag_known": r.mistakes_flag_known,
                "flagged": r.flagged, "flag_known": r.flag_known,
                "temperature": round(fit.temperature, 4) if fit else None, "review_threshold": round(fit.threshold, 4) if fit else None,
            }))
        return 0
    if not reports:
        where = f" from {args.source}" if args.source is not None else ""
        print(f"no spot-check verdicts{where} in {config.db}: draw a sample in the app's Batch tab (Spot check) and give each item a verdict")
        return 0
    for (source, version), r in reports.items():
        print(f"{source}, model v{version}:")
        for sentence in r.sentences():
            print(f"  {sentence}")
        fit = fits[(source, version)]
        if fit is not None:
            print(f"  Calibrated on these verdicts: temperature {fit.temperature:.2f}, a row needs review below {fit.threshold:.2f} "
                  "(what the app's Calibrate this file would apply).")
    return 0


def _channel_report(name: str, corrections: list[Correction], as_json: bool) -> int:
    """A saved channel as one source: the spot checks of all its files in the store, what was
    saved, and what saving it again now would fit (the app's Save as channel)."""
    path = user_paths.channels_path()
    channels = load_channels(path)
    name = channel_name(name)  # spaced as the app saves it
    if name not in channels:
        known = ", ".join(channels) or "none yet"
        raise DataError(f"no channel named {name!r} in {path} (saved: {known})", "give the name as the app shows it, or set FEEDBACK_CHANNELS")
    channel = channels[name]
    pooled = channel_verdicts(corrections, channel.model_version, channel.files, channel.named_only)
    report, fit = report_of(pooled), _calibration(pooled)
    if as_json:
        print(json.dumps({
            "channel": name, "model_version": channel.model_version, "sources": list(channel.sources), "files": list(channel.files), "named_only": list(channel.named_only), "checked": report.checked,
            "right": report.right, "accuracy": round(report.accuracy, 4) if report.checked else None, "calibration": report.calibration,
            "saved": {"temperature": channel.temperature, "review_threshold": channel.threshold, "verdicts": channel.verdicts, "saved_at": channel.saved_at},
            "refit": {"temperature": round(fit.temperature, 4), "review_threshold": round(fit.threshold, 4), "verdicts": fit.verdicts} if fit else None,
        }))
        return 0
    files = f"{', '.join(channel.sources)} ({channel.files_text})" if channel.sources else "files not named (saved before channels kept them)"
    print(f"{name}, model v{channel.model_version}: {files}")
    print(f"  Saved {channel.saved_at}: temperature {channel.temperature:.2f}, a row needs review below {channel.threshold:.2f}, "
          f"fitted on {channel.verdicts} verdicts.")
    if not channel.sources:
        print("  It names no files (saved before channels kept them): save it again from a file's spot check to see its verdicts here.")
        return 0
    if not pooled:
        print("  The store holds none of its spot-check verdicts (deleted, purged, or another store).")
        return 0
    for sentence in report.sentences():
        print(f"  {sentence}")
    if fit is not None:
        print(f"  Saved again now, on these {fit.verdicts} verdicts: temperature {fit.temperature:.2f}, review below {fit.threshold:.2f}.")
    return 0


def _calibration(verdicts: list[Correction]) -> SourceCalibration | None:
    """What the app's "Calibrate this file" would fit on these verdicts; None when it would refuse
    (too few verdicts or mistakes) or a verdict has no scores (saved before they were kept)."""
    if any(c.scores is None or c.final_label not in c.scores or c.predicted_label not in c.scores for c in verdicts):
        return None  # a hand import may hold scores without the labels the fit reads
    try:
        return calibrate([c.scores or {} for c in verdicts], [c.final_label for c in verdicts], [c.predicted_label or "" for c in verdicts])
    except ValueError:
        return None


def _ids(rows: list[Correction]) -> str:
    shown = ", ".join(str(c.id) for c in rows[:SHOWN_IDS])
    return shown + (f" and {len(rows) - SHOWN_IDS} more" if len(rows) > SHOWN_IDS else "")


def _report(erasure: Erasure, what: str) -> None:
    print(f"deleted {erasure.deleted} {what}")
    if not erasure.erased:
        print("note: another program was reading the store, so the deleted text stays in its write-ahead log "
              "until that program closes the store; run this command again later to be sure")


def delete(_args: argparse.Namespace, config: cfg.CorrectionsDeleteConfig) -> int:
    store = _store(config)
    if not config.yes:
        rows = store.find(config.text_contains, config.cutoff)
        consumed = sum(c.consumed_by is not None for c in rows)
        print(f"{len(rows)} correction(s) match ({consumed} consumed, {len(rows) - consumed} pending)" + (f": ids {_ids(rows)}" if rows else ""))
        print("dry run: nothing deleted; add --yes to delete them")
        return 0
    _report(store.delete_where(config.text_contains, config.cutoff), "matching correction(s); exports and backups made earlier still hold them: delete those by hand")
    return 0


def purge(_args: argparse.Namespace, config: cfg.CorrectionsPurgeConfig) -> int:
    store, days, now = _store(config), int(config.older_than_days or 0), datetime.now(timezone.utc)
    if not config.yes:
        rows = [c for c in store.all() if expired(c.created_at, c.consumed_by, days, now)]
        print(f"{len(rows)} consumed correction(s) saved over {days} day(s) ago" + (f": ids {_ids(rows)}" if rows else ""))
        print("dry run: nothing deleted; add --yes to delete them (pending corrections are never purged)")
        return 0
    _report(store.purge_consumed(days, now), f"consumed correction(s) saved over {days} day(s) ago")
    return 0


def backup(args: argparse.Namespace, config: cfg.CorrectionsConfig) -> int:
    result = _store(config).backup(args.out)
    print(f"backed up {result.rows} correction(s) to {result.path} ({result.bytes} bytes, {result.seconds:.2f} s); it holds customers' words: keep it as safe as the store")
    return 0


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "corrections", help="count, list, check, back up, purge or delete the agents' corrections",
        description="The local corrections store (see docs/RELIABILITY.md and SECURITY.md).",
    )
    inner = group.add_subparsers(dest="corrections_command", required=True, metavar="{count,list,check,spot-check,backup,purge,delete}")
    c = add_command(inner, "count", "How many corrections the store holds: pending and consumed.", "feedback corrections count", count, cfg.CorrectionsConfig)
    c.add_argument("--json", action="store_true", help="print JSON")
    ls = add_command(inner, "list", "List the corrections, oldest first (shows customers' words).", "feedback corrections list --pending", list_corrections, cfg.CorrectionsConfig)
    ls.add_argument("--pending", action="store_true", help="only those no promoted version has consumed yet")
    ls.add_argument("--json", action="store_true", help="print one JSON object per line, with the full text")
    add_command(inner, "check", "Run SQLite's integrity check on the store (exit 1 on problems).", "feedback corrections check", check, cfg.CorrectionsConfig)
    sc = add_command(inner, "spot-check", "How often the model was really right on each source's random spot check, against its mean confidence.",
                     "feedback corrections spot-check --source tweets.csv", spot_check, cfg.CorrectionsConfig)
    which = sc.add_mutually_exclusive_group()
    which.add_argument("--source", help="only this source (the file name the app classified)")
    which.add_argument("--channel", help="a channel saved in the app: the spot checks of all its files as one, and what saving it again would fit")
    sc.add_argument("--json", action="store_true", help="print one JSON object per source and model version (or for the channel)")
    b = add_command(inner, "backup", "Copy the store to a new file through SQLite's online backup API; safe while the app writes.",
                    "feedback corrections backup ~/backups/corrections-2025-06-30.sqlite3", backup, cfg.CorrectionsConfig)
    b.add_argument("out", help="the backup file to create (never overwritten)")
    add_command(inner, "purge", "Retention: delete corrections consumed by a promoted version and older than N days (counts only, unless --yes).",
                "feedback corrections purge --older-than-days 90 --yes", purge, cfg.CorrectionsPurgeConfig)
    add_command(inner, "delete", "A customer's deletion request: delete matching corrections, consumed or not (counts only, unless --yes).",
                "feedback corrections delete --text-contains 'jane.roe@example.com' --yes", delete, cfg.CorrectionsDeleteConfig)
