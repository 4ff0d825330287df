from bench.customer360.run import main

raise SystemExit(main())
