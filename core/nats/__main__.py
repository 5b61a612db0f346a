from core.nats.cli import main

raise SystemExit(main())
