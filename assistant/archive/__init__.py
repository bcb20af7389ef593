"""The evidence archive: tamper-evident SQLite store, search, export, retention."""
from assistant.archive.store import Archive, ArchiveError, ArchiveFullError
from assistant.archive.verify import Problem, Report, verify

__all__ = ["Archive", "ArchiveError", "ArchiveFullError", "Problem", "Report", "verify"]
