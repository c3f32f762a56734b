"""The application layer: every command is a library call first.

- :mod:`petro.app.wells`: per-well work (read, targets, features) as pure tasks
- :mod:`petro.app.training`: ``run(cfg, on_event=...) -> RunResult`` (ingest, train, log, register)
- :mod:`petro.app.predict`: predicted wells with units and descriptions, written as LAS
- :mod:`petro.app.export`: target LAS files beside the vendor curves
- :mod:`petro.app.events`: progress and problems as events (the CLI renders them; no rich here)

The Python verbs users call (``petro.api``) and the command line (``petro.cli``) sit on top.
"""
