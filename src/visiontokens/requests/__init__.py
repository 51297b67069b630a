"""Reading requests: one walker per API format, the multipart parser, and the pricing loop."""
