"""The library's exceptions: one type per kind of failure, each naming the file and the problem."""


class SerError(Exception):
    """Base class of every error ser_hf raises on purpose."""


class AudioError(SerError, ValueError):
    """Audio that cannot be used: unreadable, empty, too short, too long or not audio at all."""

    def __init__(self, source: object, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class CorpusError(SerError, ValueError):
    """A corpus folder that is missing, empty or not laid out as the corpus is released."""


class ModelSourceError(SerError, ValueError):
    """A checkpoint that cannot be loaded: a missing folder, or a Hub id out of reach (offline) or not a model."""
