"""What a run trains on, decided in one place: the data of a run or a sweep read and checked by one set of rules
(:func:`resolve_data`), the input the network compiles for (:func:`resolve_input`: image size, channels, classes),
the data moved to the device with what config.json records of it, and a finished run's data found again
(:func:`run_dataset`). Imports the engine's config, data and the leaves."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..data import CLASSES, DATASETS, DeviceData, FashionMNIST, ImageSet, load_dataset, load_fashion_mnist
from ..data.datasets import from_fashion_mnist, holds_images
from ..data.fashion_mnist import check_subset
from ..engine import TrainConfig
from ..errors import ConfigError, DataError
from ..network import NetworkConfig

DataLike = FashionMNIST | ImageSet | DeviceData  # what a caller may give; resolved, Fashion-MNIST is an ImageSet


def as_image_set(data: FashionMNIST | ImageSet) -> ImageSet:
    """Fashion-MNIST's tensors as the :class:`~visualstreams.data.ImageSet` the registry's ``fashion-mnist`` is
    (a channel axis added; nothing recorded to load it by but its source, as before image sets existed)."""
    return from_fashion_mnist(data) if isinstance(data, FashionMNIST) else data


def device_data(
    data: DataLike | None, data_path: str | os.PathLike[str] | None, config: TrainConfig,
    device: torch.device,
) -> tuple[DeviceData, dict[str, Any]]:
    """The run's training subset and test set on ``device``, and what config.json records of the data."""
    if isinstance(data, DeviceData):
        return data, {}
    dataset = as_image_set(data if data is not None else load_fashion_mnist(data_path))
    return DeviceData.from_dataset(dataset.subset(config.train_subset, seed=config.seed), device), data_record(dataset)


def data_record(dataset: ImageSet) -> dict[str, Any]:
    """What a run's config.json and a sweep's experiment.json record of their data: the set's info, its checksums
    with that of its decoded tensors (so a resumed run or sweep checks it has the same images, :func:`same_images`)."""
    return {**dataset.info(), "checksums": {**dataset.checksums, "tensors": dataset.digest()}}


def _fashion_mnist(data_path: str | os.PathLike[str] | None) -> FashionMNIST:
    """Fashion-MNIST from ``data_path``; an image folder given there is told to use --dataset."""
    try:
        return load_fashion_mnist(data_path)
    except DataError:
        if data_path is not None and Path(data_path).is_dir() and holds_images(data_path):
            raise DataError(f"{data_path}: an image folder, not Fashion-MNIST: --data is for Fashion-MNIST's "
                            f"files; train on your images with --dataset {data_path}") from None
        raise


def resolve_data(config: TrainConfig, data: DataLike | None = None,
                 data_path: str | os.PathLike[str] | None = None, dataset: str | os.PathLike[str] | None = None,
                 test_data: str | os.PathLike[str] | None = None, image_size: int | None = None,
                 resume: bool = False) -> ImageSet | DeviceData:
    """The data a run (:func:`train`) or a sweep (compare) trains on, read and checked before anything is written,
    by one set of rules: ``data`` itself, the image set ``dataset`` names (its held-out split drawn by the config's
    seed; ``test_data`` and ``image_size`` go with it), or Fashion-MNIST from ``data_path`` (found as
    :func:`~visualstreams.data.load_fashion_mnist` finds it when None). The config's training subset must fit the
    set (unless ``resume``: a sweep recorded before that rule continues as it trained), and the task must be able
    to take its images (:func:`resolve_input`)."""
    if sum(x is not None for x in (data, data_path, dataset)) > 1:
        raise ConfigError("give the data, a Fashion-MNIST directory (--data) or a dataset (--dataset), not two")
    if dataset is None and (test_data is not None or image_size is not None):
        raise ConfigError("a test folder and an image size go with a dataset (--dataset)")
    if dataset is not None:
        images: ImageSet | DeviceData = load_dataset(dataset, test_path=test_data, size=image_size, seed=config.seed)
    elif isinstance(data, DeviceData):
        images = data
    else:  # Fashion-MNIST is an image set like every other
        images = as_image_set(data if data is not None else _fashion_mnist(data_path))
    if isinstance(images, ImageSet) and not resume:
        check_subset(len(images.train_labels), config.train_subset)
    resolve_input(config, images)
    return images


def same_images(recorded: dict[str, Any], now: dict[str, Any]) -> bool | None:
    """Whether two data records (config.json's or experiment.json's ``data``) are of the same images: by the
    checksum of their decoded tensors when both have one (any format: the same images read from IDX, CSV or
    memory), else by the files' checksums both have, between files of one format (the IDX and CSV releases
    differ); None when the records cannot tell (a record of 0.2.0 or before beside another format)."""
    ours, theirs = recorded.get("checksums") or {}, now.get("checksums") or {}
    if "tensors" in ours and "tensors" in theirs:
        return bool(ours["tensors"] == theirs["tensors"])
    common = set(ours) & set(theirs) - {"tensors"}
    if recorded.get("format") != now.get("format") or not common:
        return None
    return all(ours[k] == theirs[k] for k in common)


def run_dataset(run_config: dict[str, Any], data_path: str | os.PathLike[str] | None = None) -> ImageSet:
    """The dataset a run trained on, as its config.json (``data``) records it, for analyses of the finished run.

    An image set is loaded again from its record (``load``: path, test folder, size, split seed), or from
    ``data_path`` when it has moved; one that is gone is refused in one line, and so are other images than the
    run's (their checksum differs). A Fashion-MNIST run reads its own directory while it exists, else
    ``data_path``, else Fashion-MNIST found as training finds it (as before image sets)."""
    info = run_config.get("data") or {}
    load = info.get("load")
    if not load:
        recorded = info.get("source")
        return as_image_set(load_fashion_mnist(data_path if data_path is not None else
                                               recorded if recorded and Path(str(recorded)).is_dir() else None))
    where = str(data_path) if data_path is not None else load.get("name_or_path")
    refuse_gone(info, where)
    dataset = load_dataset(**{**load, "name_or_path": where})
    recorded = (info.get("checksums") or {}).get("tensors")
    if recorded and dataset.digest() != recorded:
        raise DataError(f"{where}: not the images the run trained on (their checksum differs from its config.json)")
    return dataset


def refuse_gone(info: dict[str, Any], where: str | None) -> None:
    """One line when a run's recorded image set (at ``where``, or its test folder) no longer exists."""
    name = info.get("dataset") or where
    for path in (where, (info.get("load") or {}).get("test_path")):
        if path is not None and path not in DATASETS and not Path(path).exists():
            raise DataError(f"the run's dataset {name!r} is gone: {path} no longer exists (give --data where it "
                            "is now)")


def resolve_input(config: TrainConfig, data: DataLike | None) -> NetworkConfig:
    """The network config of a run of ``config`` on ``data`` with its input decided, the one place the image size
    is: the task's image (28 px, or its canvas) for Fashion-MNIST, 1 channel, 10 classes; an
    :class:`~visualstreams.data.ImageSet`'s own size, channels and classes. Refuses non-square images, an image
    set on a task that draws Fashion-MNIST items, and an input given in the config that the data contradicts."""
    task = config.make_task()
    if isinstance(data, ImageSet):
        h, w = data.size
        if h != w:
            raise ConfigError(f"{data.source}: images are {w}x{h} px; the network takes square images "
                              "(resize them: --image-size N)")
        if task.canvas is not None and (data.channels, h) != (1, 28):
            raise ConfigError(f"task {task.name!r} places 28 px grey items on a canvas; {data.name} has {w} px "
                              f"images of {data.channels} channel(s): train it with --task what")
        if task.needs_pool and ((data.channels, h) != (1, 28) or len(data.classes) != 10):
            raise ConfigError(f"task {task.name!r} draws Fashion-MNIST-like items (28 px, grey, 10 classes); "
                              f"{data.name} has {w} px images of {data.channels} channel(s) and "
                              f"{len(data.classes)} classes: train it with --task what")
        decided = {"image_size": task.image_size if task.canvas is not None else h, "in_channels": data.channels,
                   "classes": len(data.classes)}
    elif isinstance(data, DeviceData):  # tensors already on a device: their channels; their classes are unknown
        decided = {"image_size": task.image_size, "in_channels": int(data.train_x.shape[1]), "classes": None}
    else:  # Fashion-MNIST's, found when training starts
        decided = {"image_size": task.image_size, "in_channels": 1, "classes": len(CLASSES)}
    net = config.network
    for name, value in decided.items():
        given = getattr(net, name)
        if value is None:
            decided[name] = given  # left to the config, else the architecture
        elif given is not None and given != value:
            raise ConfigError(f"the network's {name.replace('_', ' ')} is {given}, but the data and task give "
                              f"{value}: leave it out (the data decides it)")
    return replace(net, **decided)
