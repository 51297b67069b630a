"""The command line: ``visiontokens`` and its subcommands."""
