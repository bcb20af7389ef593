"""The call pipeline: source → recogniser → segmenter → checkers → stage → suggester → sinks.

:class:`CallPipeline` wires one call (synchronously); :mod:`assistant.pipeline.live` runs
it live with threads and queues at the edges; checkers and sinks come from the
:data:`registry` (built-ins registered the way plugins are).
"""
from assistant.pipeline.call import CallPipeline, Turn, word_times
from assistant.pipeline.registry import CallContext, Registry, registry

__all__ = ["CallContext", "CallPipeline", "Registry", "Turn", "registry", "word_times"]
