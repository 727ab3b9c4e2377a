"""helpers.machinery.threads.one_thread: one thread inside, the count as it was after, even after an error."""

import pytest
import torch

from helpers.machinery.threads import one_thread


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_the_block_runs_on_one_thread_and_the_count_is_restored(two_threads):
    with one_thread():
        assert torch.get_num_threads() == 1
        with one_thread():  # nested: still one, and the outer block's count comes back
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_the_count_is_restored_after_an_error(two_threads):
    with pytest.raises(ZeroDivisionError), one_thread():
        1 / 0  # noqa: B018
    assert torch.get_num_threads() == 2


def test_as_a_decorator_every_call_runs_on_one_thread(two_threads):
    @one_thread()
    def threads_inside(fail=False):
        if fail:
            raise ValueError("bad")
        return torch.get_num_threads()

    assert threads_inside() == 1 and threads_inside() == 1  # usable more than once
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="bad"):
        threads_inside(fail=True)
    assert torch.get_num_threads() == 2


def test_the_lessons_use_the_shared_context_manager():
    import helpers.lessons.l04_masking.toy_head
    import helpers.lessons.l07_complexity.measurement_runs
    import helpers.lessons.l08_before_transformers_bahdanau.training
    import helpers.lessons.l09_transformer_end_to_end.training

    shared = {
        helpers.lessons.l08_before_transformers_bahdanau.training.one_thread,
        helpers.lessons.l07_complexity.measurement_runs.one_thread,
        helpers.lessons.l04_masking.toy_head.one_thread,
        helpers.lessons.l09_transformer_end_to_end.training.one_thread,
        helpers.lessons.l09_transformer_end_to_end.training.one_thread_context,
    }
    assert shared == {one_thread}
