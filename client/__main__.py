"""``python -m client``: the desktop app."""

from client.ui.app import main

raise SystemExit(main())
