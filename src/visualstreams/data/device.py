"""The dataset resident on the training device: uint8 images and int64 labels, batches cut there by index.
Imports the dataset types only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .datasets import ImageSet
from .fashion_mnist import FashionMNIST


@dataclass
class DeviceData:
    """The dataset on the training device: uint8 images (N, C, H, W), int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @classmethod
    def from_dataset(cls, data: FashionMNIST | ImageSet, device: torch.device) -> DeviceData:
        if isinstance(data, ImageSet):  # its images have their channel axis already
            return cls(data.train_images.to(device), data.train_labels.to(device), data.test_images.to(device),
                       data.test_labels.to(device))
        return cls(data.train_images.unsqueeze(1).to(device), data.train_labels.to(device),
                   data.test_images.unsqueeze(1).to(device), data.test_labels.to(device))


def test_tensors(data: FashionMNIST | ImageSet, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images (N, C, H, W) uint8 and labels of ``data`` on ``device`` (the training set stays put)."""
    images = data.test_images if isinstance(data, ImageSet) else data.test_images.unsqueeze(1)
    return images.to(device), data.test_labels.to(device)
