"""Models with torchvision's architectures, module names and initialisation
(``torchvision.models``), so their ``state_dict()`` keys and shapes are torchvision's.

``weights=None`` builds a randomly initialised model; ``weights="PATH"`` loads a state dict
saved at ``PATH`` with whatever ``rgrad.load`` reads. The models need ``nn.MaxPool2d``,
``nn.AdaptiveAvgPool2d`` and ``nn.BatchNorm2d``.
"""

from .alexnet import AlexNet, alexnet
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .resnet import ResNet, resnet18, resnet34, resnet50
from .squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = [
    "VGG",
    "AlexNet",
    "MobileNetV2",
    "ResNet",
    "SqueezeNet",
    "alexnet",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "squeezenet1_0",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg16",
    "vgg16_bn",
]
