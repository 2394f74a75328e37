"""Domain errors: every refusal the product can give, each with a message for a person."""

from __future__ import annotations


class DomainError(Exception):
    """A use case could not be carried out; `str(error)` is one line for the person who asked."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The input breaks a rule; names the field."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Refusal(DomainError):
    """A refused action that is written to the audit log (the unit of work does that)."""

    def __init__(
        self,
        message: str,
        *,
        workspace_id: int | None,
        actor: str,
        origin: str,
        action: str,
        target: str,
    ) -> None:
        super().__init__(message)
        self.workspace_id = workspace_id
        self.actor = actor
        self.origin = origin
        self.action = action
        self.target = target


class PermissionDenied(Refusal):
    """The actor may not do this."""

    exit_code = 3


class AlreadyDone(Refusal):
    """The action was already carried out (e.g. the same promotion twice)."""

    exit_code = 2


class NotFound(DomainError):
    """Something named does not exist in this workspace."""

    exit_code = 4
