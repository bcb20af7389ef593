"""Script suggestions: the library of lines, the stage tracker's companion suggester, lint."""
from assistant.constants import STAGES
from assistant.errors import ScriptError
from assistant.suggest.library import ScriptLine, load_library, render, sample_case

__all__ = ["STAGES", "ScriptError", "ScriptLine", "load_library", "render", "sample_case"]
