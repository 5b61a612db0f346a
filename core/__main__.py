import gc

# No cyclic GC while start-up imports and builds ~100k long-lived objects (collections of them
# found nothing to free and cost ~40 ms); `core serve` freezes them and turns it back on.
gc.disable()

from core.cli import main  # noqa: E402

raise SystemExit(main())
