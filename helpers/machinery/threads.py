"""One CPU thread for a block of code, then the thread count as it was.

The lessons train and time tiny models on one thread. Splitting a tiny operation over threads costs more
than it saves, and on a busy 2-core laptop the threads wait for each other (a 0.1 ms batched product was
measured at 70 ms). One thread also adds numbers up in the same order every time, so training is repeatable
and a timing measures the work, not how well it spreads over the cores that happen to be free.
"""

import contextlib

import torch

__all__ = ["one_thread"]


@contextlib.contextmanager
def one_thread():
    """`with one_thread():` runs its block on one CPU thread; the count is restored after, even on an error.

    Also a decorator: `@one_thread()` runs each call of the function on one thread.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
