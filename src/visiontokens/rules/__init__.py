"""The rules: dated data per provider, model resolution, registration and the one cache."""
