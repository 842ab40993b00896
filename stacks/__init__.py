"""Stacks: composition only (which constructs, which environment)."""

from stacks.realtime_stack import RealtimeInferenceStack, realtime_stack_id

__all__ = ["RealtimeInferenceStack", "realtime_stack_id"]
