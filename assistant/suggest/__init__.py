"""Script suggestions: the library of lines, the stage tracker's companion suggester, lint."""
from assistant.suggest.library import STAGES, ScriptError, ScriptLine, load_library, render, sample_case

__all__ = ["STAGES", "ScriptError", "ScriptLine", "load_library", "render", "sample_case"]
