"""Stacks: composition only (which constructs, which environment)."""

from stacks.realtime_stack import RealtimeInferenceStack

__all__ = ["RealtimeInferenceStack"]
