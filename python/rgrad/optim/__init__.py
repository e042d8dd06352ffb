"""Optimizers and learning-rate schedulers with PyTorch's API and update formulas.

``rgrad.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``NAdam``, ``RAdam``,
``Adamax``, ``Adadelta``, ``Rprop``, ``ASGD``, ``LBFGS``, ``SparseAdam``;
``rgrad.optim.lr_scheduler`` holds the schedulers.
"""

from rgrad.optim import lr_scheduler
from rgrad.optim.adadelta import Adadelta
from rgrad.optim.adagrad import Adagrad
from rgrad.optim.adam import Adam, AdamW
from rgrad.optim.adamax import Adamax
from rgrad.optim.asgd import ASGD
from rgrad.optim.lbfgs import LBFGS
from rgrad.optim.nadam import NAdam
from rgrad.optim.optimizer import Optimizer
from rgrad.optim.radam import RAdam
from rgrad.optim.rmsprop import RMSprop
from rgrad.optim.rprop import Rprop
from rgrad.optim.sgd import SGD
from rgrad.optim.sparse_adam import SparseAdam

__all__ = [
    "ASGD",
    "SGD",
    "SparseAdam",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
]
