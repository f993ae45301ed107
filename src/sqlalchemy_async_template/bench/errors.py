"""The benchmark's one error."""


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which, with what it printed."""
