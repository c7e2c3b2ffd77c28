"""Method options are checked, not ignored: an unknown name or a bad value is an InputError naming the
valid ones, raised before any work, in the API, inside batch queries, in the analyses and in the CLI."""
import math
from concurrent.futures import ThreadPoolExecutor

import lipmiq
import numpy as np
import pytest
from lipmiq import api
from lipmiq.errors import InputError
from lipmiq.methods import METHODS, method_options

W = [np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([[1.0, 1.0]])]
B = [np.array([0.1, -0.2]), np.array([0.0])]


def net():
    return lipmiq.Network(W, B)


@pytest.fixture
def no_work(monkeypatch):
    """Any loading of the network (the first piece of work) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the options were checked")
    monkeypatch.setattr(api, "load", refuse)


@pytest.mark.parametrize("kwargs, needles", [
    (dict(timelimit=2), ["'timelimit'", "did you mean 'time_limit'", "region_share", "tighten"]),
    (dict(tigthen="lp"), ["'tigthen'", "did you mean 'tighten'"]),
    (dict(region_shar=0.1), ["'region_shar'", "did you mean 'region_share'"]),
    (dict(method="naive", seed=1), ["'seed'", "'naive' takes no options"]),
    (dict(method="enumerate", gap=0.1), ["'gap'", "prune", "symbolic"]),
    (dict(method="sample", xyzzy=1), ["'xyzzy'", "samples", "sample_time", "seed"]),
])
def test_unknown_option_names_the_valid_ones_before_any_work(no_work, kwargs, needles):
    with pytest.raises(InputError) as info:
        lipmiq.lipschitz(net(), lipmiq.Box(0, 1), **kwargs)
    text = str(info.value)
    assert "\n" not in text and "unknown option" in text
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize("kwargs, needles", [
    (dict(tighten="foo"), ["tighten='foo'", "none, symbolic, lp"]),
    (dict(gap=-1), ["gap=-1", ">= 0"]),
    (dict(gap=math.nan), ["gap=nan"]),
    (dict(seed="abc"), ["seed='abc'", "integer"]),
    (dict(seed=-1), ["seed=-1", "integer"]),
    (dict(seed=1.5), ["seed=1.5", "integer"]),
    (dict(seed=True), ["seed=True", "integer"]),
    (dict(region_share=1.5), ["region_share=1.5", "[0, 1]"]),
    (dict(region_share="0.5"), ["region_share='0.5'", "[0, 1]"]),
    (dict(encoding="x"), ["encoding='x'", "quadratic, bigm"]),
    (dict(method="milp", feastol=1.0), ["feastol=1.0"]),
    (dict(method="enumerate", prune="no"), ["prune='no'", "True or False"]),
    (dict(method="enumerate", engine_prune="maybe"), ["engine_prune='maybe'", 'True, False or "auto"']),
    (dict(method="sample", samples=0), ["samples=0"]),
    (dict(method="lipsdp", branch="yes"), ["branch='yes'", "True or False"]),
])
def test_bad_value_is_refused_before_any_work(no_work, kwargs, needles):
    with pytest.raises(InputError) as info:
        lipmiq.lipschitz(net(), lipmiq.Box(0, 1), **kwargs)
    text = str(info.value)
    for needle in needles:
        assert needle in text, (needle, text)


def test_every_default_passes_its_own_check():
    for method in METHODS:
        for option in method_options(method):
            assert option.check(option.default) == option.default, (method, option.name)
            assert option.doc and "\n" not in option.doc


def test_valid_values_are_normalised():
    """numpy scalars and upper-case choices are accepted and handed to the method as plain values."""
    checked = api.check_options("miqcqp", dict(seed=np.int64(3), gap=np.float32(0.5), tighten="LP", region_share=0))
    assert checked["seed"] == 3 and type(checked["seed"]) is int
    assert checked["tighten"] == "lp" and checked["region_share"] == 0.0 and checked["encoding"] == "quadratic"
    assert set(checked) == set(method_options("miqcqp").names())
    assert api.check_options("enumerate", dict(engine_prune="AUTO"))["engine_prune"] == "auto"
    assert api.check_options("enumerate", dict(engine_prune=np.bool_(False)))["engine_prune"] is False


def test_checked_options_reach_the_method(monkeypatch):
    from lipmiq.methods import sample

    seen = {}
    monkeypatch.setattr(sample, "sample_lower", lambda problem, tracker, **kw: seen.update(kw))
    lipmiq.lipschitz(net(), lipmiq.Box(0, 1), method="sample", samples=np.int32(7), seed=5, time_limit=5)
    assert seen["samples"] == 7 and seen["seed"] == 5 and seen["budget"] == pytest.approx(5.0, abs=0.5)


def test_batch_query_with_a_bad_option_names_it():
    queries = [dict(network=net(), domain=lipmiq.Box(0, 1), method="naive"),
               dict(network=net(), domain=lipmiq.Box(0, 1), timelimit=3),
               dict(network=net(), domain=lipmiq.Box(0, 1), gap=-1)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        items = {item.index: item for item in lipmiq.batch(queries, executor=pool)}
    assert items[0].ok
    assert not items[1].ok and "'timelimit'" in items[1].error and "time_limit" in items[1].error
    assert items[1].error_kind == items[2].error_kind == "input" and items[0].error_kind is None
    assert not items[2].ok and "gap=-1" in items[2].error


def test_analyses_check_their_options():
    two = lipmiq.Network([np.eye(2)], [np.zeros(2)])
    with pytest.raises(InputError, match="'tigthen'"):
        lipmiq.certified_radius(two, [1.0, 0.0], tigthen="lp")
    with pytest.raises(InputError, match="unknown method 'magic'"):
        lipmiq.certified_radius(two, [1.0, 0.0], method="magic")
    for kwargs, needle in ((dict(encoding="x"), "encoding='x'"), (dict(tighten="foo"), "tighten='foo'"),
                           (dict(seed="abc"), "seed='abc'"), (dict(samples=-1), "samples=-1")):
        with pytest.raises(InputError, match=needle):
            lipmiq.monotonicity(net(), lipmiq.Box(0, 1), **kwargs)
