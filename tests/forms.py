"""multipart/form-data bodies for the Images API tests and benchmarks (RFC 7578)."""

from __future__ import annotations


def multipart(fields, boundary="b0und4ry"):
    """A multipart/form-data body: (name, value) fields and (name, bytes, filename) files."""
    out = bytearray()
    for field in fields:
        out += f"--{boundary}\r\n".encode()
        if len(field) == 3:
            out += (f'Content-Disposition: form-data; name="{field[0]}"; filename="{field[2]}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode()
        else:
            out += f'Content-Disposition: form-data; name="{field[0]}"\r\n\r\n'.encode()
        out += field[1] + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f'multipart/form-data; boundary="{boundary}"'
