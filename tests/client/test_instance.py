"""What a client reads from the ``instance.json`` that ``feedback serve start`` writes beside its key file."""

from __future__ import annotations

import pytest

from client.core import instance


@pytest.mark.parametrize(("recorded", "lifetime"), [(30, 30.0), (28800, 28800.0), (None, None), ("30", None), (0, None), (-5, None), (True, None), (float("inf"), None)])
def test_the_key_lifetime_is_read_from_beside_the_key_file_and_anything_odd_is_unknown(tmp_path, recorded, lifetime):
    data = {"urls": {}} if recorded is None else {"urls": {}, "key_seconds": recorded}
    instance.write_instance(tmp_path, data)
    assert instance.key_lifetime(tmp_path / "key_file.json") == lifetime


def test_no_key_file_or_no_instance_means_an_unknown_lifetime(tmp_path):
    assert instance.key_lifetime(None) is None
    assert instance.key_lifetime(tmp_path / "key_file.json") is None
    (tmp_path / "instance.json").write_text("{not json", encoding="utf-8")
    assert instance.key_lifetime(tmp_path / "key_file.json") is None
