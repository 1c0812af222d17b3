"""`python -m bench`: run the benchmarks and print one line per figure."""

from bench.run import main

raise SystemExit(main())
