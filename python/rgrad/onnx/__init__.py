"""``rgrad.onnx``: PyTorch's ONNX export entry points. Exporting needs the graph capture that
rgrad does not have yet, so ``export`` raises NotImplementedError naming what is missing (a
program that imports ``torch.onnx`` and exports only on request, as pytorch/examples'
word_language_model does, runs; one that asks for an export is told plainly)."""

__all__ = ["export", "is_in_onnx_export"]


def is_in_onnx_export():
    return False


def export(model, args=(), f=None, *posargs, **kwargs):
    raise NotImplementedError(
        "rgrad.onnx.export: ONNX export needs graph capture, which this version of rgrad "
        "does not have yet"
    )
