"""``python -m client``: the desktop app."""

from client.app import main

raise SystemExit(main())
