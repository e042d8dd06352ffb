"""Optimizers and learning-rate schedulers with PyTorch's API and update formulas.

``rgrad.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``; ``rgrad.optim.lr_scheduler``
holds the schedulers.
"""

from rgrad.optim import lr_scheduler
from rgrad.optim.adagrad import Adagrad
from rgrad.optim.adam import Adam, AdamW
from rgrad.optim.optimizer import Optimizer
from rgrad.optim.rmsprop import RMSprop
from rgrad.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
