from tailstat.cli import main

raise SystemExit(main())
