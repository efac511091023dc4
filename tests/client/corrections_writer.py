"""A separate process that writes to (or marks) a corrections store, reporting each commit.

Run by ``test_corrections_store.py`` as a real process (never imported by the tests), so
locking, durability and kill -9 are SQLite's and the operating system's, not a thread's:

    python corrections_writer.py add DB COUNT TAG       add COUNT corrections "TAG i"; print each id once committed
    python corrections_writer.py consume DB ROUNDS      mark every row consumed by version 1, 2, ...; print each version once committed

A line on stdout means "this is on disk": the parent may rely on it after killing us.
"""

from __future__ import annotations

import sys

from client.core.corrections import Correction, CorrectionsStore


def main(argv: list[str]) -> int:
    mode, db = argv[0], argv[1]
    store = CorrectionsStore(db)
    if mode == "add":
        count, tag = int(argv[2]), argv[3]
        for i in range(count):
            new_id = store.add(Correction(f"{tag} {i}", "bug", "praise", agent=tag, source="writer"))
            print(new_id, flush=True)
        return 0
    ids = [c.id for c in store.all()]
    for version in range(1, int(argv[2]) + 1):
        store.mark_consumed(ids, str(version))
        print(version, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
