"""Text normalisation for the checker: Traditional→Simplified, width, ASR spacing, case."""
from assistant.text.normalize import NormalizedText, Normalizer, detect_language, is_cjk, language_share

__all__ = ["NormalizedText", "Normalizer", "detect_language", "is_cjk", "language_share"]
