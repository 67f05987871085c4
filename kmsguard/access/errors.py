"""The one typed error for malformed policy documents and scenarios."""

from __future__ import annotations


class PolicyDocumentError(ValueError):
    """A policy document (or scenario) is malformed; `path` names where, e.g. `Statement[2]`."""

    def __init__(self, path: str, message: str, *, policy: str | None = None) -> None:
        self.path = path
        self.message = message
        # Which document of a scenario ("identity[1]", "resource"); None for a bare document.
        self.policy = policy
        super().__init__(self._text())

    def _text(self) -> str:
        where = (
            self.path if self.policy is None else ".".join(p for p in (self.policy, self.path) if p)
        )
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self._text()

    def within(self, policy: str) -> PolicyDocumentError:
        """The same error, attributed to one document of a scenario."""
        return PolicyDocumentError(self.path, self.message, policy=policy)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.path, self.message, self.policy))


def _rebuild(path: str, message: str, policy: str | None) -> PolicyDocumentError:
    return PolicyDocumentError(path, message, policy=policy)
