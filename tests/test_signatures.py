"""Every compiled twin exposes what its pure twin does: the same public functions and
classes, with the same signatures and the same docstrings (RapidFuzz's check).

This is what makes the facade's typing honest: type checkers read the annotated pure twins
(``if TYPE_CHECKING`` in ``__init__.py``), and at run time the compiled twin serves. The
public API of a module is every function and class defined in it whose name has no leading
underscore.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from implementations import load_twin

from visiontokens import _extensions

#: compiled module -> its pure twin. _batch_c is the calculator's second extension.
PAIRS = {"calc._tokens_c": "calc._tokens_py", "calc._batch_c": "calc._batch_py",
         "images._header_c": "images._header_py", "requests._request_c": "requests._request_py",
         "calc._output_c": "calc._output_py",
         "requests._scan_c": "requests._scan_py"}
#: How to get an instance of a class whose attributes are set in __init__ (pure twin) or
#: declared as C fields (compiled twin): its public attributes are compared on an instance.
INSTANCES = {"Model": lambda module: module.get_model("gpt-4o"),
             "OutputModel": lambda module: module.get_output_model("gpt-image-1")}


def test_every_compiled_module_is_paired():
    compiled = {name for names, _pure in _extensions.TWINS.values() for name in names}
    assert compiled == set(PAIRS)
    assert {pure for _names, pure in _extensions.TWINS.values()} <= set(PAIRS.values())


@pytest.fixture(scope="module", params=sorted(PAIRS))
def pair(request):
    load_twin("tokens", "cython")  # skips in a pure install; fails loudly under REQUIRE
    compiled = importlib.import_module(f"visiontokens.{request.param}")
    pure = importlib.import_module(f"visiontokens.{PAIRS[request.param]}")
    return compiled, pure


def public(module):
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isroutine(value) or inspect.isclass(value))
            and getattr(value, "__module__", None) == module.__name__}


def members(cls):
    if cls.__name__ in INSTANCES:
        return {name for name in dir(INSTANCES[cls.__name__](inspect.getmodule(cls)))
                if not name.startswith("_")}
    return {name for name in dir(cls) if not name.startswith("_")}


def parameters(function):
    """What a caller relies on: names, kinds and defaults; annotations where the compiled side
    has them (a .pyx function's C types are not Python annotations; a .py compiled as is keeps
    them)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def assert_same_function(compiled, pure, where):
    assert compiled.__doc__ == pure.__doc__, f"{where}: docstrings differ"
    assert parameters(compiled) == parameters(pure), f"{where}: signatures differ"
    compiled_sig, pure_sig = inspect.signature(compiled), inspect.signature(pure)
    if any(p.annotation is not p.empty for p in compiled_sig.parameters.values()):
        assert str(compiled_sig) == str(pure_sig), f"{where}: annotations differ"


def test_same_public_names(pair):
    compiled, pure = pair
    assert sorted(public(compiled)) == sorted(public(pure))
    assert public(pure), "a twin with no public API: the pairing is wrong"
    assert (compiled.IMPLEMENTATION, pure.IMPLEMENTATION) == ("cython", "python")


def test_same_signatures_and_docstrings(pair):
    compiled, pure = pair
    theirs = public(pure)
    for name, ours in public(compiled).items():
        other = theirs[name]
        where = f"{compiled.__name__}.{name}"
        if inspect.isroutine(ours):
            assert_same_function(ours, other, where)
            continue
        assert ours.__doc__ == other.__doc__, f"{where}: class docstrings differ"
        assert members(ours) == members(other), f"{where}: public members differ"
        try:
            constructor = str(inspect.signature(ours))
        except ValueError:  # a cdef class has no introspectable __init__; get_model makes one
            constructor = None
        if constructor is not None:
            assert constructor == str(inspect.signature(other)), f"{where}(): differs"
        methods = 0
        for method in members(ours):
            mine, yours = getattr(ours, method, None), getattr(other, method, None)
            if inspect.isroutine(mine) or inspect.isroutine(yours):
                assert_same_function(mine, yours, f"{where}.{method}")
                methods += 1
        assert methods or not INSTANCES.get(name), f"{where}: no methods compared"


def test_the_facade_serves_the_chosen_twins():
    import visiontokens as vt

    tokens, request = _extensions.twin("tokens"), _extensions.twin("request")
    for name in ("count_image_tokens", "explain_image_tokens", "count_image_tokens_batch",
                 "get_model", "Model"):
        assert getattr(vt, name) is getattr(tokens, name)
    for name in ("image_info", "count_image", "count_request", "count_request_async",
                 "RequestCount", "RequestImage"):
        assert getattr(vt, name) is getattr(request, name)
