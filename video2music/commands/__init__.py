"""Command-line programs: each has ``main(argv=None) -> int`` and is a thin layer over the library."""
