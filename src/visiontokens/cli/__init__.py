"""The ``visiontokens`` command's subcommands, one module each."""
