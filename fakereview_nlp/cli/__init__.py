"""The `fakereview` command: argument parsing for every subcommand lives here and only here."""
