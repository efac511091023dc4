"""TorchServe's ``config.properties`` as text: read its keys, set some, keep the rest.

``feedback serve start`` renders the workstation's file from a template and ``feedback
deploy`` the container's and KServe's; both go through here, so a comment or a key that
neither sets survives alike.
"""

from __future__ import annotations


def set_properties(text: str, values: dict[str, str]) -> str:
    """``text`` (a config.properties) with ``key=value`` set for each key; missing keys appended."""
    todo = dict(values)
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and "=" in line and key in todo:
            line = f"{key}={todo.pop(key)}"
        out.append(line)
    out += [f"{key}={value}" for key, value in todo.items()]
    return "\n".join(out) + "\n"


def read_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
