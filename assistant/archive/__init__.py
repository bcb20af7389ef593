"""The evidence archive: tamper-evident SQLite store, search, export, retention."""
from assistant.archive.store import Archive
from assistant.archive.verify import Problem, Report, verify
from assistant.errors import ArchiveError, ArchiveFullError

__all__ = ["Archive", "ArchiveError", "ArchiveFullError", "Problem", "Report", "verify"]
