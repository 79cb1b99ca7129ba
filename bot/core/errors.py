"""Domain errors whose message is a one-line sentence a Discord user or webhook sender can read."""


class OpsroomError(Exception):
    """Base of every error the core raises on purpose; str() is safe to show to a user."""


class ValidationError(OpsroomError):
    """Input that cannot be understood (a time, a title, a payload field)."""


class NotFoundError(OpsroomError):
    """The incident, entry, action, alert or webhook named does not exist in this guild."""


class PermissionDeniedError(OpsroomError):
    """The member may read but not change incidents."""


class ConflictError(OpsroomError):
    """The change contradicts the current state (same status again, commander already set…)."""


class NotConfiguredError(OpsroomError):
    """The guild has not run `/opsroom setup` yet, or a required part of it is missing."""


class StorageUnavailableError(OpsroomError):
    """The database cannot be reached; callers answer 503 or a clear 'try again' reply."""


class StorageBusyError(StorageUnavailableError):
    """The database is there but another writer held it past our short wait (its lock)."""
