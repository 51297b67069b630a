"""Gateways: what the ASGI middleware, the LiteLLM hook and ``visiontokens serve`` share
(:mod:`visiontokens.gateway.shared`: budgets, refusals, error bodies, codes, options, endpoints
by path), and the ``serve`` application itself (:mod:`visiontokens.gateway.server`).

Nothing here is imported by ``import visiontokens``: a gateway pays for it when it uses it.
"""
