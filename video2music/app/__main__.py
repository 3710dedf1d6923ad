"""``python -m video2music.app``: start the web app."""

from video2music.app.cli import main

raise SystemExit(main())
