import torch

from dreamcore.engine.objectives import LayerObjective


def test_channel_objective_only_sees_its_channel():
    acts = {"relu3": torch.zeros(1, 32, 4, 4)}
    acts["relu3"][:, 7] = 2.0
    assert LayerObjective("relu3", 7).loss(acts) == 4.0 * 16
    assert LayerObjective("relu3", 6).loss(acts) == 0.0
    assert LayerObjective("relu3").count(acts) == 32 * 16
