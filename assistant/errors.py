"""Errors raised by the library. Each carries a short code and a message that names the fix."""
from __future__ import annotations


class CallassistError(Exception):
    """Base class for every error the library raises on purpose.

    ``code`` is a stable identifier (``E001`` …) so that messages can be searched for
    in the documentation; ``str(err)`` is the full message including the code.
    """

    code = "E000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class RuleFileError(CallassistError):
    """A lexicon file is missing, unreadable or does not match the schema."""

    code = "E001"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"invalid rule files (run `callassist rules lint`):\n{shown}{more}")


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


class AudioFormatError(CallassistError):
    """An audio file that cannot be read: not WAV, truncated, or an unsupported format."""

    code = "E010"


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


class PrivacyError(CallassistError):
    """Personal data could not be kept private as asked (e.g. audio without word times under --redact)."""

    code = "E022"


class InputValidationError(CallassistError):
    """A record (transcript line, header, case file) that would poison the archive: refused before anything is written."""

    code = "E023"


class UnsafeArchiveError(CallassistError):
    """A zip archive (model or evidence bundle) with unsafe members: links, paths outside, or too large when unpacked."""

    code = "E024"


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


class InternalError(CallassistError):
    """Something unexpected went wrong inside callassist: a bug to report."""

    code = "E999"
