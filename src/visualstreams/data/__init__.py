"""Data: the dataset registry (``datasets``: Fashion-MNIST, CIFAR-10, image folders, .npz), Fashion-MNIST from its
files or a verified download (``fashion_mnist``), the what-and-where canvas
(``canvas``), the test items' pixel noise (``noise``) and device-resident tensors (``device``). Imports only the
leaves."""

from .canvas import ITEM_SIZE, TEST_POSITION_SEED, canvas_offsets, item_centres, place_on_canvas
from .datasets import DATASETS, DEFAULT_DATASET, ImageSet, describe, load_dataset, show_dataset
from .device import DeviceData, test_tensors
from .fashion_mnist import (
    CLASSES,
    IDX_FILES,
    FashionMNIST,
    find_data,
    load_fashion_mnist,
)
from .noise import item_noise

__all__ = ["ITEM_SIZE", "TEST_POSITION_SEED", "canvas_offsets", "item_centres", "place_on_canvas", "DeviceData",
           "test_tensors",
           "item_noise", "DATASETS", "DEFAULT_DATASET", "ImageSet", "describe", "load_dataset", "show_dataset",
           "CLASSES",
           "IDX_FILES", "FashionMNIST", "find_data", "load_fashion_mnist"]
