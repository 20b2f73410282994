"""``tinyae gradcheck`` and ``tinyae models``."""
from __future__ import annotations

from .common import formatter


def cmd_gradcheck(args) -> int:
    from .. import gradcheck
    return gradcheck.main(args.names)


def describe_model(model) -> str:
    """'(1, 28, 28) -> 784 -> 256 -> 784 -> (1, 28, 28)': the shapes data take through ``model``."""
    from ..layers.base import format_shape
    shapes = [(None, *model.input_shape)] if model.input_shape else []
    for shape in model.shapes():
        if not shapes or shape != shapes[-1]:
            shapes.append(shape)
    return " -> ".join(str(s[1]) if len(s) == 2 else format_shape(s[1:]) for s in shapes)


def cmd_models(args) -> int:
    from .. import losses, models
    names = sorted(models.ZOO)
    width = max(len(n) for n in names)
    for name in names:
        model = models.build(name)
        doc = (models.ZOO[name].__doc__ or "").strip().splitlines()
        loss = losses.get(model.loss)
        objective = f"{loss.label} {loss.units}" + (" + penalty" if _has_penalty(model) else "")
        print(f"{name:<{width}}  {model.num_parameters():>9,} parameters  code {model.code_size:>5,}  "
              f"{objective:<28}  {describe_model(model)}")
        if args.verbose and doc:
            print(f"{'':<{width}}  {doc[0]}")
    return 0


def _has_penalty(model) -> bool:
    from ..layers import GaussianSample, Quantize, leaves
    from ..layers.penalties import ActivityL1, KLSparsity
    return any(isinstance(layer, (ActivityL1, KLSparsity, GaussianSample, Quantize)) for _, layer in leaves(model))


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "gradcheck", formatter_class=formatter, help="check every backward pass against finite differences",
        description="Compare the hand-written gradient of every layer, loss, penalty and zoo model with central\n"
                    "finite differences in float64, and print the largest relative error of each.\n"
                    "Every error should be below 1e-7; the exit status is 1 if one is not.",
        epilog="examples:\n"
               "  tinyae gradcheck\n"
               "  tinyae gradcheck Dense Sigmoid     (only the checks whose name contains a word)")
    p.add_argument("names", nargs="*", metavar="WORD", help="only the checks whose name contains one of these words")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser(
        "models", formatter_class=formatter, help="list the zoo's models with their sizes",
        description="List the models that 'tinyae train --model NAME' can build: their parameter counts,\n"
                    "the size of the code between encoder and decoder, their own objective, and the\n"
                    "shapes an image takes through them, one model a line.",
        epilog="example:\n"
               "  tinyae models\n"
               "  tinyae models -v      (with a one-line description of each)")
    p.add_argument("-v", "--verbose", action="store_true", help="add each model's one-line description")
    p.set_defaults(func=cmd_models)
