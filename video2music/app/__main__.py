"""``python -m video2music.app``: start the web app."""

from video2music.commands.app import main

raise SystemExit(main())
