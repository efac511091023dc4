"""The WiSE-FT measurement's mix (scripts/weight_interpolation.py): docs/MODEL_REPORT.md quotes
its figures, so the mix must be the one it describes."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("weight_interpolation")


def test_shared_weights_are_mixed_and_the_head_and_integer_buffers_stay_fine_tuned(script):
    fine_tuned = {
        "bert.layer.weight": torch.tensor([1.0, 3.0]),
        "bert.position_ids": torch.tensor([0, 1, 2]),
        "classifier.weight": torch.tensor([[5.0]]),
        "bert.half": torch.tensor([2.0], dtype=torch.float16),
    }
    pretrained = {
        "bert.layer.weight": torch.tensor([3.0, -1.0]),
        "bert.position_ids": torch.tensor([9, 9, 9]),
        "bert.half": torch.tensor([4.0], dtype=torch.float16),
    }
    mixed = script.interpolate(fine_tuned, pretrained, 0.25)
    assert mixed["bert.layer.weight"].tolist() == pytest.approx([2.5, 0.0])  # 0.25 * fine-tuned + 0.75 * pretrained
    assert mixed["bert.half"].dtype == torch.float16 and mixed["bert.half"].item() == pytest.approx(3.5)
    assert mixed["bert.position_ids"].tolist() == [0, 1, 2]
    assert mixed["classifier.weight"].tolist() == [[5.0]]
    assert script.interpolate(fine_tuned, pretrained, 1.0)["bert.layer.weight"].tolist() == [1.0, 3.0]
    assert fine_tuned["bert.layer.weight"].tolist() == [1.0, 3.0]  # the inputs are not changed in place
