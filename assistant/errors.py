"""Every error and warning the library raises, in one registry (spaCy's habit).

Each carries a stable code, searchable in the documentation, and a message that names the
fix. Nothing else escapes the library: ``tests/test_errors.py`` checks that every error
class lives here with a unique code listed below, and that the library raises no bare
built-in exception. The command line turns these into ``Error: [Exxx] …`` (exit 2) and
anything else into an internal error (exit 3).

::

    CallassistError (E000)
    ├── rules and the checker
    │   ├── RuleFileError ............ E001  a lexicon file is invalid (`callassist rules lint`)
    │   ├── LexiconMissingError ...... E008  no lexicon folder where one is expected
    │   ├── UnknownLanguageError ..... E002  a language with no lexicon
    │   ├── InputLineError ........... E003  a JSON Lines input line that cannot be checked
    │   ├── MeaningModelError ........ E004  the meaning layer's weights are missing or damaged
    │   ├── TextTooLongError ......... E005  an utterance over the length limit
    │   ├── UnknownSpeakerError ...... E006  a speaker other than agent or customer (also a ValueError)
    │   └── UnknownRuleError ......... E007  no rule with this id (also a KeyError)
    ├── speech
    │   ├── AudioFormatError ......... E010  an audio file that cannot be read
    │   ├── TranscriptError .......... E011  a timed transcript line that cannot be used
    │   ├── SpeechEngineError ........ E012  Vosk missing, or a model it cannot load
    │   ├── ModelNotFoundError ....... E013  no speech model (names the pull command)
    │   ├── ModelDownloadError ....... E014  a download failed or does not match its checksum
    │   ├── SoundDeviceError ......... E015  no microphone capture possible
    │   └── SynthesisError ........... E016  espeak-ng missing or failed
    ├── the archive
    │   ├── ArchiveError ............. E020  the archive cannot be opened, written or used as asked
    │   │   └── ArchiveFullError ..... E021  the disk or the size limit is full
    │   ├── PrivacyError ............. E022  personal data could not be kept private as asked
    │   ├── InputValidationError ..... E023  a record that would poison the archive
    │   ├── UnsafeArchiveError ....... E024  a zip with links, escaping paths or too large unpacked
    │   ├── SearchError .............. E025  a search that cannot be run (also a ValueError)
    │   └── CaseError ................ E026  a case field a contact check cannot use (time zone, time, window)
    ├── scripts
    │   ├── ScriptError .............. E030  a script line malformed or not renderable
    │   └── TemplateLimitError ....... E031  a template over its output size or time
    ├── the call pipeline
    │   ├── RegistryError ............ E040  an unknown checker or sink, a plugin that fails to load
    │   ├── LiveCallError ............ E041  a live call that cannot start or had to stop
    │   ├── PipelineInputError ....... E042  an event the pipeline does not take (also a TypeError)
    │   └── IngestError .............. E043  call audio from telephony that cannot be taken (bad frame, token, metadata)
    ├── QA review
    │   ├── ScorecardError ........... E050  a scorecard file is invalid (names file:line)
    │   ├── FindingIdError ........... E051  not a finding id (CALL_ID#POS), or no such finding
    │   ├── UserError ................ E052  an unknown user or role, a password that cannot be used
    │   └── ReportError .............. E053  a report that cannot be rendered (a broken override template)
    └── InternalError ................ E999  a bug: please report it

    CallassistWarning (UserWarning, W000)
    └── StaleModelWarning ............ W001  the meaning model was trained on other corpora
"""
from __future__ import annotations

from typing import Any


class CallassistError(Exception):
    """Base class for every error the library raises on purpose.

    ``code`` is a stable identifier (``E001`` …) so that messages can be searched for
    in the documentation; ``str(err)`` is the full message including the code.
    """

    code = "E000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as it is (an error sent back by a worker process keeps its message and
        fields, whatever its constructor takes)."""
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class RuleFileError(CallassistError):
    """A lexicon file is missing, unreadable or does not match the schema."""

    code = "E001"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"invalid rule files (run `callassist rules lint`):\n{shown}{more}")


class LexiconMissingError(CallassistError):
    """No lexicon folder where one is expected (a broken install, or a wrong $CALLASSIST_LEXICONS)."""

    code = "E008"


class UnknownLanguageError(CallassistError):
    """A language code that the checker has no lexicon for."""

    code = "E002"


class InputLineError(CallassistError):
    """One line of a JSON Lines input cannot be checked."""

    code = "E003"

    def __init__(self, line_no: int, message: str) -> None:
        self.line_no = line_no
        super().__init__(f"line {line_no}: {message}")


class MeaningModelError(CallassistError):
    """The meaning layer's trained weights are missing or stale."""

    code = "E004"


class TextTooLongError(CallassistError):
    """An utterance longer than the checker accepts (a whole transcript passed as one line?)."""

    code = "E005"


class UnknownSpeakerError(CallassistError, ValueError):
    """A speaker other than ``agent`` or ``customer``."""

    code = "E006"


class UnknownRuleError(CallassistError, KeyError):
    """No rule with the id asked for."""

    code = "E007"

    def __str__(self) -> str:  # KeyError would quote the whole message
        return Exception.__str__(self)


class AudioFormatError(CallassistError):
    """An audio file that cannot be read: not WAV, truncated, or an unsupported format."""

    code = "E010"


class TranscriptError(CallassistError):
    """A timed transcript line that cannot be used."""

    code = "E011"


class SpeechEngineError(CallassistError):
    """The speech engine (Vosk) is not installed or cannot load a model directory."""

    code = "E012"


class ModelNotFoundError(CallassistError):
    """No speech model where one was asked for or expected; the message names the pull command."""

    code = "E013"


class ModelDownloadError(CallassistError):
    """A model download failed, was cut short or does not match its published size or checksum."""

    code = "E014"


class SoundDeviceError(CallassistError):
    """Microphone capture is impossible: sounddevice/PortAudio missing, or no such input device."""

    code = "E015"


class SynthesisError(CallassistError):
    """Speech synthesis (espeak-ng, for fixtures and practice) is unavailable or failed."""

    code = "E016"


class ArchiveError(CallassistError):
    """The archive file cannot be opened, written or used as asked."""

    code = "E020"


class ArchiveFullError(ArchiveError):
    """The disk (or the configured size limit) is full: the record was not written."""

    code = "E021"


class PrivacyError(CallassistError):
    """Personal data could not be kept private as asked (e.g. audio without word times under --redact)."""

    code = "E022"


class InputValidationError(CallassistError):
    """A record (transcript line, header, case file) that would poison the archive: refused before anything is written."""

    code = "E023"


class UnsafeArchiveError(CallassistError):
    """A zip archive (model or evidence bundle) with unsafe members: links, paths outside, or too large when unpacked."""

    code = "E024"


class SearchError(CallassistError, ValueError):
    """A search that cannot be run (nothing to search for, a bad date)."""

    code = "E025"


class CaseError(CallassistError):
    """A case field the contact rules cannot use: an unknown time zone or US state, a time
    or a consent window that is not a time."""

    code = "E026"


class ScriptError(CallassistError):
    """A script line that is malformed, uses an undeclared variable or cannot be rendered."""

    code = "E030"


class TemplateLimitError(CallassistError):
    """A script template exceeded the output size or time a rendering may take."""

    code = "E031"


class RegistryError(CallassistError):
    """An unknown checker or sink name, or a plugin that cannot be loaded."""

    code = "E040"


class LiveCallError(CallassistError):
    """A live call that cannot start or had to stop (source, recogniser, view)."""

    code = "E041"


class PipelineInputError(CallassistError, TypeError):
    """An event the call pipeline does not take."""

    code = "E042"


class IngestError(CallassistError):
    """Call audio from telephony that cannot be taken: a malformed frame, a missing or wrong
    token, metadata that names no call, a server that is full."""

    code = "E043"


class ScorecardError(CallassistError):
    """A scorecard file that cannot be used: bad YAML, unknown categories, weights out of range."""

    code = "E050"


class FindingIdError(CallassistError, ValueError):
    """Not a finding id (``CALL_ID#POS``, as ``archive show`` prints it)."""

    code = "E051"


class UserError(CallassistError):
    """An unknown user or role, a name taken, a password too short or wrong."""

    code = "E052"


class ReportError(CallassistError):
    """A report that cannot be rendered, e.g. a broken template in the override folder."""

    code = "E053"


class InternalError(CallassistError):
    """Something unexpected went wrong inside callassist: a bug to report."""

    code = "E999"


class CallassistWarning(UserWarning):
    """Base class of the library's warnings; ``str(w)`` starts with the code."""

    code = "W000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class StaleModelWarning(CallassistWarning):
    """The meaning model was trained on other corpora than the ones installed: retrain it."""

    code = "W001"
