from bench.track.run import main

raise SystemExit(main())
