"""Data: the dataset registry (``datasets``: Fashion-MNIST, CIFAR-10, image folders, .npz), Fashion-MNIST from its
files or a verified download (``fashion_mnist``), the what-and-where canvas
(``canvas``), the test items' pixel noise (``noise``) and device-resident tensors (``device``). Imports only the
leaves."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".canvas": ("ITEM_SIZE", "TEST_POSITION_SEED", "canvas_offsets", "item_centres", "place_on_canvas"),
    ".datasets": ("DATASETS", "DEFAULT_DATASET", "ImageSet", "describe", "load_dataset", "show_dataset"),
    ".device": ("DeviceData", "test_tensors"),
    ".fashion_mnist": ("CLASSES", "IDX_FILES", "FashionMNIST", "find_data", "load_fashion_mnist"),
    ".noise": ("item_noise",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
