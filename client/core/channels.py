"""Saved calibrations: a spot check made once serves every later file of the same channel.

A support team's traffic comes in channels (the complaint tweets, the app-store reviews, the
developer forum), a new file of each every day. A spot check of one file
(``client.core.spot_check``) calibrates that file (``client.core.source_temperature``); saved
under the channel's name, the same calibration applies to the next files of that channel
without another spot check. It belongs to the model version it was fitted on: a retrained
model scores differently, so a calibration of another version is refused, not applied.

A channel grows with its spot checks: saving a file's spot check under a channel's name that
already exists (for the same model version) fits the channel again on the spot-check verdicts
of every file it was fitted on, from the corrections store (``refit``). Each day's file can
add a small sample, and the channel's temperature comes from all of them; a file's own sample
need not reach the minimum alone. A channel fitted on another model version starts again from
this file: a retrained model is right on different items.

A file is known by its name and by a fingerprint of its bytes (``client.core.batch.file_digest``),
which every verdict from a file carries: two files of the same name (every day's export.csv, or
the same name exported by two tools for two channels) are two files, and a channel pools only
the ones saved under it. An edited or re-exported file is a new file. Verdicts saved before
fingerprints were kept carry none; they count, by name, only for the files a channel was saved
from before then (``named_only``), never for a channel saved since.

A small JSON file (``paths.channels_path()``), written whole to a temporary file, synced and
renamed, so a crash or a power cut leaves either the old file or the new one. Every save reads
the file again and writes it under an OS file lock beside it (``filelock``), and ``grow_channel``
holds that lock from reading the channel to writing it back: two windows (or an app and a
script) saving the same channel at once both land, the later one fitted on the earlier one's
files too, instead of the later rename dropping the earlier file from the channel. A file that
cannot be read is an error that names it; nothing overwrites it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from client.core.corrections import Correction
from client.core.errors import DataError
from client.core.source_temperature import BOUNDS, MIN_MISTAKES, MIN_VERDICTS, SourceCalibration, calibrate

FORMAT = 3  # 2 added ``sources``, 3 ``files`` (fingerprints) and ``named_only``; see load_channels for older files
READABLE_FORMATS = (1, 2, 3)
MAX_NAME = 80
# Seconds. A save holds the lock for a read, a fit on at most thousands of verdicts and a small
# write (well under a second); the wait runs on the corrections store's writer thread, where
# the verdicts given meanwhile queue behind it, so it is short.
LOCK_WAIT = 10.0


@dataclass(frozen=True)
class Channel:
    name: str
    temperature: float
    threshold: float
    verdicts: int
    model_version: str
    saved_at: str
    # The files (their names, as the store's ``source``) whose spot checks the channel is fitted on.
    sources: tuple[str, ...] = field(default=())
    # Their fingerprints (the store's ``source_digest``): what a verdict is matched by when it has one.
    files: tuple[str, ...] = field(default=())
    # Files saved before fingerprints were kept (channels of format 1 and 2): verdicts without a
    # fingerprint are matched by these names, and only these.
    named_only: tuple[str, ...] = field(default=())

    @property
    def calibration(self) -> SourceCalibration:
        return SourceCalibration(self.temperature, self.threshold, self.verdicts)

    @property
    def file_count(self) -> int:
        """How many files it is fitted on: files of one name count apart, by fingerprint."""
        return len(self.files) + len(self.named_only)

    @property
    def files_text(self) -> str:
        return files_text(len(self.files), len(self.named_only))


def files_text(files: int, named_only: int) -> str:
    """The files a channel is fitted on, in words. Those saved before fingerprints are counted
    apart: one of them may be the same file as one known by fingerprint (a channel saved
    before, saved again from the same file), which nothing can tell."""
    known = f"{files} file{'s' if files != 1 else ''}"
    if not named_only:
        return known
    older = f"{named_only} file{'s' if named_only != 1 else ''} saved before fingerprints (by name)"
    return f"{known} and {older}" if files else older


def channel_name(text: str) -> str:
    """A channel's name as typed, trimmed; a clear error when it cannot be one."""
    name = " ".join(text.split())
    if not name:
        raise DataError("a channel needs a name", "type the channel's name, e.g. Complaint tweets")
    if len(name) > MAX_NAME:
        raise DataError(f"a channel's name has at most {MAX_NAME} characters. But it had {len(name)}", "shorten the name")
    return name


def _checked(channel: Channel) -> Channel:
    """A channel read from the file, its values checked: a hand-edited file must not rescale a file wrongly."""
    low, high = BOUNDS
    if not (isinstance(channel.temperature, (int, float)) and math.isfinite(channel.temperature) and low <= channel.temperature <= high):
        raise ValueError(f"{channel.name!r}: temperature must be a number from {low} to {high}, not {channel.temperature!r}")
    if not (isinstance(channel.threshold, (int, float)) and 0 <= channel.threshold <= 1):
        raise ValueError(f"{channel.name!r}: threshold must be a number from 0 to 1, not {channel.threshold!r}")
    if not (isinstance(channel.verdicts, int) and channel.verdicts >= MIN_VERDICTS):
        raise ValueError(f"{channel.name!r}: verdicts must be a whole number of at least {MIN_VERDICTS}, not {channel.verdicts!r}")
    if not (isinstance(channel.model_version, str) and isinstance(channel.saved_at, str) and isinstance(channel.name, str)):
        raise ValueError(f"{channel.name!r}: name, model_version and saved_at must be text")
    if not (isinstance(channel.sources, (list, tuple)) and all(isinstance(s, str) and s for s in channel.sources)):
        raise ValueError(f"{channel.name!r}: sources must be a list of file names, not {channel.sources!r}")
    if not (isinstance(channel.files, (list, tuple)) and all(isinstance(s, str) and s for s in channel.files)):
        raise ValueError(f"{channel.name!r}: files must be a list of file fingerprints, not {channel.files!r}")
    if not (isinstance(channel.named_only, (list, tuple)) and all(isinstance(s, str) and s for s in channel.named_only)):
        raise ValueError(f"{channel.name!r}: named_only must be a list of file names, not {channel.named_only!r}")
    if channel_name(channel.name) != channel.name:
        raise ValueError(f"{channel.name!r} is not a channel name as the app saves it")
    return channel


def load_channels(path: Path) -> dict[str, Channel]:
    """The saved channels by name; none when the file does not exist yet."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") not in READABLE_FORMATS:
            raise ValueError(f"format {data.get('format')!r}, expected one of {READABLE_FORMATS}")
        channels = [_checked(Channel(**item)) for item in data["channels"]]
        channels = [replace(c, sources=tuple(c.sources), files=tuple(c.files), named_only=tuple(c.named_only)) for c in channels]  # JSON has lists
        if data["format"] < 3:  # every file of an older channel was saved before fingerprints were kept
            channels = [replace(c, named_only=c.sources) for c in channels]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, DataError) as exc:
        raise DataError(
            f"{path}: the saved channels cannot be read ({exc})",
            "fix the file or move it aside (it is left as it is); the channels in it must then be calibrated again",
        ) from None
    return {c.name: c for c in channels}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The channels file's lock (``<file>.lock`` beside it), so a read-fit-write is not
    interleaved with another process's. Imported here, not at the top: reading channels
    (``feedback corrections spot-check --channel``) works on a base install without it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path.with_name(path.name + ".lock")), timeout=LOCK_WAIT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise DataError(f"{path}: another window or process has been saving channels for {LOCK_WAIT:.0f} s",
                        "save again in a moment; if it keeps failing, close the other windows of the app") from None
    except OSError as exc:
        raise DataError(f"{path}: the channels file cannot be locked ({exc.strerror or exc})", f"make '{path.parent}' writable and save again") from None
    try:
        yield
    finally:
        lock.release()


def _write(path: Path, channels: dict[str, Channel]) -> None:
    text = json.dumps({"format": FORMAT, "channels": [asdict(c) for c in sorted(channels.values(), key=lambda c: c.name.casefold())]}, indent=1)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(partial, "w", encoding="utf-8") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())  # on disk before it takes the old file's place: a power cut leaves one or the other
        os.replace(partial, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the partial file, if it got written; never more
            partial.unlink(missing_ok=True)
        raise DataError(f"{path}: the channel could not be saved ({exc.strerror or exc})", f"make '{path.parent}' writable and save again") from None


def save_channel(path: Path, channel: Channel) -> dict[str, Channel]:
    """Add ``channel`` (replacing one of the same name) and write the file; the channels now saved."""
    with _locked(path):
        channels = load_channels(path)
        channels[channel.name] = channel
        _write(path, channels)
    return channels


def grow_channel(path: Path, name: str, source: str, digest: str | None, model_version: str,
                 corrections: Callable[[], Sequence[Correction]], saved_at: str) -> Channel:
    """Fit the channel ``name`` again with the spot check of ``source`` (``refit``) and save it,
    holding the file's lock from reading the channel to writing it: the files another window
    added meanwhile stay in the channel. ``corrections`` reads the store inside the lock, so the
    fit sees the other window's verdicts too."""
    with _locked(path):
        channels = load_channels(path)
        channel = refit(name, channels.get(name), source, digest, model_version, corrections(), saved_at)
        channels[name] = channel
        _write(path, channels)
    return channel


def refusal(channel: Channel, model_version: str) -> str | None:
    """Why ``channel`` cannot calibrate a file classified by ``model_version`` (None: it can)."""
    if channel.model_version != model_version:
        return (
            f"{channel.name} was calibrated for model v{channel.model_version}, and this file was classified by v{model_version}: "
            "a retrained model scores differently. Draw a spot check of this file and save the channel again."
        )
    return None


def channel_verdicts(corrections: Iterable[Correction], model_version: str, files: Iterable[str], named_only: Iterable[str] = ()) -> list[Correction]:
    """The spot-check verdicts a channel is fitted on: every one given on its files for
    ``model_version`` with the scores the server sent (older stores kept none; a hand import
    may lack the two labels the fit reads), as ``feedback corrections spot-check`` counts them.
    A verdict that carries its file's fingerprint counts when the fingerprint is one of
    ``files``; one saved before fingerprints were kept, when its file's name is one of
    ``named_only`` (the files a channel was saved from before then).

    Rows of one file are not matched by text: two customers who wrote "Thanks!" are two
    draws. A row judged again in a later session is stored again and counts twice, as it does
    in the store's report; within a session a changed verdict replaces the earlier one.
    """
    names, digests = set(named_only), set(files)
    return [
        c for c in corrections
        if c.spot_check and c.model_version == model_version and c.confidence is not None
        and (c.source_digest in digests if c.source_digest is not None else c.source in names)
        and c.scores and c.predicted_label in c.scores and c.final_label in c.scores
    ]


def refit(name: str, existing: Channel | None, source: str, digest: str | None, model_version: str,
          corrections: Sequence[Correction], saved_at: str) -> Channel:
    """The channel ``name`` fitted on the spot checks of the file ``source`` (its fingerprint
    ``digest``; None for a file whose verdicts carry none) and, when ``existing`` was fitted
    for the same model version, of every file it was fitted on before.

    A clear error when the pooled verdicts are still too few to fit (nothing is saved then).
    """
    sources, files, named = {source}, {digest} - {None}, set() if digest is not None else {source}
    pooled_before = existing is not None and existing.model_version == model_version
    if pooled_before:
        sources.update(existing.sources)
        files.update(existing.files)
        named.update(existing.named_only)
    pooled = channel_verdicts(corrections, model_version, files, named)
    mistakes = sum(c.final_label != c.predicted_label for c in pooled)
    if len(pooled) < MIN_VERDICTS or mistakes < MIN_MISTAKES:
        restarted = (f" (its earlier files were for model v{existing.model_version}, so this file starts it again)"
                     if existing is not None and not pooled_before else "")
        raise DataError(
            f"{name} has {len(pooled)} spot-check verdicts with {mistakes} mistakes from {files_text(len(files), len(named))} for model v{model_version}{restarted}; "
            f"a channel is fitted on at least {MIN_VERDICTS} verdicts with {MIN_MISTAKES} mistakes",
            "give more verdicts in this file's spot check (draw a larger sample if it is all judged), then save again",
        )
    calibration = calibrate([c.scores or {} for c in pooled], [c.final_label for c in pooled], [c.predicted_label or "" for c in pooled])
    return Channel(name, calibration.temperature, calibration.threshold, calibration.verdicts, model_version, saved_at,
                   tuple(sorted(sources)), tuple(sorted(files)), tuple(sorted(named)))
