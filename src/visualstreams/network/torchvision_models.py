"""torchvision 0.29's ``alexnet``, ``vgg11``, ``vgg16``, ``resnet18`` and ``resnet50``, written here with
torchvision's module names, shapes and initialisation (so torchvision's state dicts load), because PyPI's
torchvision wheel does not import beside the CPU build of torch this project pins. Each takes the small-input
adaptation :mod:`.reference` decides and ``ch``, every layer's channel count from the published one (the identity
at width 1; see :func:`~visualstreams.network.reference.match_width`). Imports torch only."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

VGG_LAYERS = {  # torchvision's configurations "A" and "D": channels, or "M" for a 2x2 max-pool
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}
RESNET_BLOCKS = {"resnet18": ("basic", (2, 2, 2, 2)), "resnet50": ("bottleneck", (3, 4, 6, 3))}
# A layer's width at a model's width multiplier: the published channel count -> the one built (``round`` at 1)
Width = Callable[[int], int]


def alexnet(classes: int, in_channels: int, small: bool, ch: Width = round) -> nn.Module:
    c1, c2, c3, c4, fc = ch(64), ch(192), ch(384), ch(256), ch(4096)
    first = (nn.Conv2d(in_channels, c1, 3, stride=1, padding=1) if small
             else nn.Conv2d(in_channels, c1, 11, stride=4, padding=2))
    model = nn.Module()
    model.features = nn.Sequential(
        first, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c4, c4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
    model.avgpool = nn.AdaptiveAvgPool2d((6, 6))
    model.classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(c4 * 36, fc), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Linear(fc, classes))
    return model


def vgg(name: str, classes: int, in_channels: int, no_last_pool: bool, ch: Width = round) -> nn.Module:
    layers: list[nn.Module] = []
    channels = in_channels
    config = VGG_LAYERS[name][:-1] if no_last_pool else VGG_LAYERS[name]
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, ch(int(v)), 3, padding=1), nn.ReLU(inplace=True)]
            channels = ch(int(v))
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    fc = ch(4096)
    model.classifier = nn.Sequential(
        nn.Linear(channels * 49, fc), nn.ReLU(True), nn.Dropout(0.5),
        nn.Linear(fc, fc), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(fc, classes))
    for m in model.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _downsample(inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), nn.BatchNorm2d(outplanes))


class ResNet(nn.Module):
    def __init__(self, name: str, classes: int, in_channels: int, cifar_stem: bool, ch: Width = round) -> None:
        super().__init__()
        kind, counts = RESNET_BLOCKS[name]
        block: Callable[..., nn.Module] = BasicBlock if kind == "basic" else Bottleneck
        expansion = 1 if kind == "basic" else 4
        inplanes = ch(64)
        self.conv1 = (nn.Conv2d(in_channels, inplanes, 3, 1, 1, bias=False) if cifar_stem
                      else nn.Conv2d(in_channels, inplanes, 7, 2, 3, bias=False))
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar_stem else nn.MaxPool2d(3, 2, 1)
        for i, (planes, count) in enumerate(zip([ch(c) for c in (64, 128, 256, 512)], counts, strict=True)):
            blocks = []
            for j in range(count):
                blocks.append(block(inplanes, planes, 2 if (j == 0 and i > 0) else 1))
                inplanes = planes * expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


__all__ = ["RESNET_BLOCKS", "VGG_LAYERS", "ResNet", "Width", "alexnet", "vgg"]
