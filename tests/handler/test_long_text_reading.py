"""Reading a long text whole: windows, the readings of one text, pooling (handler/feedback_handler.py).

The served handler and in-process evaluation read through these functions, so a window that
skipped tokens or a pooling that mixed two texts would move every figure we report."""

from __future__ import annotations

import pytest

from handler.feedback_handler import MAX_WINDOWS, encode_readings, head_tail, pool_logits, readings, windows

CLS, SEP = 101, 102


def text_ids(n_pieces: int) -> list[int]:
    return [CLS, *range(1000, 1000 + n_pieces), SEP]


@pytest.mark.parametrize("length, stride", [(300, 63), (300, 126), (127, 126), (1000, 50), (131, 1)])
def test_windows_cover_the_whole_text_and_keep_the_special_tokens(length, stride):
    ids = text_ids(length)
    read = windows(ids, 128, stride)
    assert all(len(w) == 128 and w[0] == CLS and w[-1] == SEP for w in read)
    assert {t for w in read for t in w[1:-1]} == set(ids[1:-1])
    assert read[0][1] == ids[1] and read[-1][-2] == ids[-2]  # from the first word piece to the last
    starts = [w[1] for w in read]
    assert starts == sorted(set(starts)) and all(b - a <= stride for a, b in zip(starts, starts[1:]))


def test_a_text_that_fits_is_its_own_window():
    assert windows([CLS, 7, 8, 9, SEP], 128, 63) == [[CLS, 7, 8, 9, SEP]]
    assert windows(text_ids(126), 128, 63) == [text_ids(126)]


def test_head_and_tail_come_first_and_windows_only_for_what_does_not_fit():
    long_text, short_text = text_ids(300), text_ids(40)
    assert readings(long_text, 128, 0.6) == ([head_tail(long_text, 128, 0.6)[0]], True)  # no windows: tokens go unread
    read, unread = readings(long_text, 128, 0.6, window_step=0.5)
    assert read[0] == head_tail(long_text, 128, 0.6)[0] and read[1:] == windows(long_text, 128, 63) and not unread
    assert readings(long_text, 128, 0.6, window_step=1.0)[0][1:] == windows(long_text, 128, 126)
    assert readings(short_text, 128, 0.6, window_step=0.5) == ([short_text], False)


def test_a_text_of_thousands_of_pieces_costs_at_most_max_windows_passes():
    """A pasted dump must not multiply one item's cost: the windows spread out, and a text
    they no longer cover whole is flagged."""
    covered = text_ids(126 + 63 * (MAX_WINDOWS - 1))  # the longest text windows overlapping by half cover
    read, unread = readings(covered, 128, 0.6, window_step=0.5)
    assert len(read) == 1 + MAX_WINDOWS and not unread
    for length in (126 + 63 * MAX_WINDOWS, 1500, 2000, 3000):
        ids = text_ids(length)
        read, unread = readings(ids, 128, 0.6, window_step=0.5)
        assert len(read) <= 1 + MAX_WINDOWS and read[1][1] == ids[1] and read[-1][-2] == ids[-2]
        assert unread == (length - 126 > 126 * (MAX_WINDOWS - 1))  # gaps between windows only past side by side
        assert unread or {t for w in read[1:] for t in w[1:-1]} == set(ids[1:-1])


def test_pooling_averages_each_texts_rows_and_keeps_texts_apart():
    rows = [[1.0, 3.0], [4.0, 0.0], [2.0, 2.0], [0.0, 6.0]]
    assert pool_logits(rows, [0, 1, 1, 1], 2) == [[1.0, 3.0], [2.0, pytest.approx(8 / 3)]]
    assert pool_logits([], [], 0) == []


class WordTokenizer:
    """Each word one piece: enough to check which text each reading belongs to."""

    def __call__(self, texts, truncation=False, verbose=False):
        return {"input_ids": [[CLS, *(1000 + len(word) for word in text.split()), SEP] for text in texts]}


def test_encode_readings_numbers_each_texts_readings_in_order():
    texts = ["short one", " ".join(["word"] * 200), "", " ".join(["longer"] * 70)]
    sequences, owners, unread = encode_readings(WordTokenizer(), texts, 64, 0.75, window_step=1.0)
    assert owners == sorted(owners) and set(owners) == {0, 1, 2, 3}
    assert [owners.count(i) for i in range(4)] == [1, 1 + len(windows(WordTokenizer()([texts[1]])["input_ids"][0], 64, 62)), 1, 1 + 2]
    assert all(len(s) <= 64 for s in sequences) and unread == [False] * 4
    assert encode_readings(WordTokenizer(), texts, 64, 0.75)[1] == [0, 1, 2, 3]  # no windows: one reading each
    assert encode_readings(WordTokenizer(), texts, 64, 0.75)[2] == [False, True, False, True]
