"""The arithmetic: one kernel set per scheme, each with its pure-Python twin.

Kernels take parameters, never model or provider names; ``rules`` turns names into parameters.
"""
