from fincorpus.cli import main

main()
