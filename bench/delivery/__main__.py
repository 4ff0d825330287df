from bench.delivery.run import main

main()
