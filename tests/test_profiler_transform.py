"""PY430: what the profiler transform writes exists in torch-npu 2.13.0, and a bound enum's check can fail."""

import pytest

from porter.python.transforms import profiler
from porter.surface import load_surface
from tests.test_rule_targets import npu_has_python


@pytest.fixture(scope="module")
def npu():
    return load_surface("torch_npu", "2.13.0")


@pytest.mark.parametrize("name", [*profiler.ACTIVITIES.values(), *(f"{profiler.NPU}.{f}" for f in
                                  ("profile", "schedule", "tensorboard_trace_handler"))])
def test_every_name_the_transform_writes_exists(npu, name):
    assert npu_has_python(npu, name)


@pytest.mark.parametrize("name", ["torch_npu.profiler.ProfilerActivity.CUDA", "torch_npu.profiler.Nothing.NPU"])
def test_a_member_the_enum_lacks_is_not_taken_for_real(npu, name):
    assert not npu_has_python(npu, name)
