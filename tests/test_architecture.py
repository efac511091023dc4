"""The arrows between packages (docs/ARCHITECTURE.md), checked on every import statement.

    client.ui -> client.core <- training        handler -> nothing of ours

``training`` may reach the desktop UI only lazily, inside the ``app`` and ``run``
commands (``training/cli/app.py``), so the CLI and a headless install never load Qt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("client", "training", "handler")
QT = ("PySide6", "shiboken6")
LAZY_UI_ALLOWED = {"training/cli/app.py"}


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((_absolute(path, node), node.lineno, id(node) in top))
    return found


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """``from ..ui import x`` in client/core/y.py -> ``client.ui``: relative imports count too."""
    if node.level == 0:
        return node.module or ""
    package = path.relative_to(ROOT).parent.parts
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def forbidden(rel: str, module: str, top_level: bool) -> str | None:
    """Why ``rel`` may not import ``module`` (None when the arrow is allowed)."""
    def under(prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")

    if rel.startswith("client/") and under("training"):
        return "client never imports training (the arrow runs training -> client.core)"
    if rel.startswith("client/core/") and (under("client.ui") or any(under(q) for q in QT)):
        return "client.core is plain Python: no Qt, no client.ui"
    if rel.startswith("handler/") and (under("client") or under("training")):
        return "the handler is packed alone into the .mar: it imports nothing of ours"
    if rel.startswith("training/") and (under("client.ui") or any(under(q) for q in QT)):
        if rel in LAZY_UI_ALLOWED and not top_level:
            return None
        return "training reaches the UI only lazily, inside the app/run commands"
    return None


def violations(root: Path) -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for module, line, top_level in imports(path):
                reason = forbidden(rel, module, top_level)
                if reason:
                    out.append(f"{rel}:{line}: imports {module}: {reason}")
    return out


def test_no_forbidden_arrow_between_packages() -> None:
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("rel", "module", "top_level", "allowed"),
    [
        ("client/ui/window.py", "training.paths", True, False),
        ("client/core/api.py", "PySide6.QtCore", True, False),
        ("client/core/batch.py", "client.ui.signals", False, False),
        ("handler/feedback_handler.py", "client.core.labels", False, False),
        ("training/serve.py", "client.ui.app", False, False),
        ("training/cli/app.py", "client.ui.app", True, False),
        ("client/ui/window.py", "client.core.paths", True, True),
        ("training/retrain.py", "client.core.corrections", True, True),
        ("training/cli/app.py", "client.ui.app", False, True),
        ("handler/feedback_handler.py", "ts.torch_handler.base_handler", False, True),
    ],
)
def test_each_arrow_is_judged_as_the_design_says(rel: str, module: str, top_level: bool, allowed: bool) -> None:
    assert (forbidden(rel, module, top_level) is None) is allowed
