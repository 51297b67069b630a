"""What the gateways share (the ASGI middleware, the LiteLLM hook, and ``visiontokens serve``):
budgets, refusals, provider-shaped error bodies, codes, options and endpoints by path."""
