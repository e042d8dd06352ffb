"""``FakeData``: random PIL images and labels, each a pure function of its index."""

from __future__ import annotations

import rgrad

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """Random images as PIL images (``torchvision.datasets.FakeData``).

    As in torchvision, item ``i`` seeds the global generator with ``i + random_offset``,
    draws ``randn(*image_size)`` and a label in ``[0, num_classes)``, and restores the
    generator's state, so every access to an index gives the same sample. The numbers are
    rgrad's generator's, not PyTorch's.
    """

    def __init__(
        self,
        size=1000,
        image_size=(3, 224, 224),
        num_classes=10,
        transform=None,
        target_transform=None,
        random_offset=0,
    ):
        super().__init__(transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        from .. import transforms

        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng_state = rgrad.get_rng_state()
        rgrad.manual_seed(index + self.random_offset)
        img = rgrad.randn(*self.image_size)
        target = rgrad.randint(0, self.num_classes, size=(1,), dtype=rgrad.long)[0]
        rgrad.set_rng_state(rng_state)

        img = transforms.ToPILImage()(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item()

    def __len__(self):
        return self.size
