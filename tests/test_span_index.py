"""The span indexes the safety policies and the residual pass query must answer exactly what a scan would."""

import random

import pytest

from porter.findings import Span
from porter.python.safety.structure import inside
from porter.python.span_index import Containers, SpanIndex


def _random_span(rng: random.Random, lines: int) -> Span:
    start, end = sorted((rng.randint(1, lines), rng.randint(1, lines)))
    first, last = rng.randint(1, 40), rng.randint(1, 40)
    if start == end:
        first, last = min(first, last), max(first, last)
    return Span(start, first, end, last)


@pytest.mark.parametrize("seed", range(5))
def test_items_inside_a_region_are_those_a_scan_finds_in_the_given_order(seed):
    rng = random.Random(seed)
    spans = [_random_span(rng, 30) for _ in range(300)]
    index = SpanIndex((span, n) for n, span in enumerate(spans))
    for _ in range(300):
        region = _random_span(rng, 30)
        assert index.inside(region) == [n for n, span in enumerate(spans) if inside(span, region)]


@pytest.mark.parametrize("seed", range(5))
def test_containers_answer_as_a_scan_while_they_grow(seed):
    rng = random.Random(seed)
    containers, added = Containers(lines=10), []  # lines beyond 10 make it grow
    for _ in range(200):
        span = _random_span(rng, 60)
        containers.add(span)
        added.append(span)
        for _ in range(5):
            query = _random_span(rng, 60)
            assert containers.contains(query) == any(inside(query, outer) for outer in added), query


def test_a_span_contains_itself_and_not_its_neighbour():
    containers = Containers(lines=3)
    containers.add(Span(2, 5, 2, 9))
    assert containers.contains(Span(2, 5, 2, 9))
    assert containers.contains(Span(2, 6, 2, 8))
    assert not containers.contains(Span(2, 4, 2, 9))
    assert not containers.contains(Span(2, 5, 2, 10))
    assert not containers.contains(Span(3, 1, 3, 2))
