"""Errors the store raises; each carries the CLI exit code of DESIGN §7."""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error meant for a user: ``str(err)`` is one clear sentence."""

    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other arguments than their sentence: rebuilt from the sentence and
        # their fields, so an error crosses from the store's helper process whole (helper.py).
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[CrmError], args: tuple[object, ...], fields: dict[str, object]) -> CrmError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(fields)
    return error


class ValidationError(CrmError):
    """A field's value is not acceptable; ``field`` names it."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UsageError(CrmError):
    """The request itself is malformed (ambiguous name, unknown option value)."""

    exit_code = 2


class RuleRefused(CrmError):
    """A domain rule refused the action; ``rule`` names the rule (a setting key or a role)."""

    exit_code = 3

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class PermissionDenied(RuleRefused):
    """The acting rep's role does not allow the action."""

    def __init__(self, message: str) -> None:
        super().__init__("permission", message)


class AlreadyExists(RuleRefused):
    """The duplicate check found the customer; only the owner is named, never the details.

    ``customer_id`` is the strongest match's id where the caller may see it (else None);
    ``force_allowed`` says whether ``force=True`` would add the look-alike (DESIGN §5: every
    match is the caller's own or in the open sea, or the caller is an admin), so a screen offers
    "add anyway" without deciding it; ``merge_allowed`` whether the caller may merge into that
    match (``crm merge``).
    """

    def __init__(self, message: str, customer_id: int | None, owner_login: str | None,
                 *, force_allowed: bool = False, merge_allowed: bool = False,
                 matched_on: str | None = None) -> None:
        super().__init__("duplicate", message)
        self.customer_id = customer_id
        self.owner_login = owner_login
        self.force_allowed = force_allowed
        self.merge_allowed = merge_allowed
        self.matched_on = matched_on


class Conflict(RuleRefused):
    """An optimistic-lock conflict: someone else saved the record since it was read."""

    def __init__(self, message: str, changed_by: str | None, changed_at: object) -> None:
        super().__init__("version", message)
        self.changed_by = changed_by
        self.changed_at = changed_at


class NotFound(CrmError):
    """No such record visible to the acting rep."""

    exit_code = 4


class MergedAway(NotFound):
    """The customer was merged into another (``crm merge``); ``into`` is the one kept."""

    def __init__(self, message: str, customer_id: int, into: int) -> None:
        super().__init__(message)
        self.customer_id = customer_id
        self.into = into


class UnknownRep(CrmError):
    """The acting account is not a rep of this CRM."""

    exit_code = 3


class SchemaOutOfDate(CrmError):
    """The database needs ``crm db upgrade`` (or ``crm init``) before use."""

    exit_code = 1


class SchemaTooNew(SchemaOutOfDate):
    """The database was migrated by a newer crm: this one must not use nor "upgrade" it."""

    exit_code = 3


class DatabaseDamaged(CrmError):
    """The file is not a crm database, or one with tables missing: nothing can be done with it."""

    exit_code = 2


class DatabaseUnavailable(CrmError):
    """The database cannot be reached or opened."""

    exit_code = 1


class DatabaseBusy(CrmError):
    """PostgreSQL: a lock another session held, or a statement that ran too long, stopped the
    command (the session's lock or statement timeout); nothing of it was written."""

    exit_code = 1
