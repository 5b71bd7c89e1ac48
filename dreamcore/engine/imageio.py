"""Pillow images <-> pixel tensors (1 x 3 x H x W, float32, 0..255)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def to_tensor(image: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32)  # H x W x 3
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).to(device)  # 1 x 3 x H x W


def to_image(pixels: Tensor) -> Image.Image:
    array = pixels.detach().float().squeeze(0).permute(1, 2, 0).clamp(0, 255)  # H x W x 3
    return Image.fromarray(array.round().to(torch.uint8).cpu().numpy(), mode="RGB")
